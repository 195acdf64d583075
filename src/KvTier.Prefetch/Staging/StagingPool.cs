using System.Numerics;
using KvTier.Prefetch.Decoding;

namespace KvTier.Prefetch.Staging;

/// <summary>
/// Pinned staging memory under a byte budget: blocks are rented per section, cached by size class when returned, and
/// everything allocated (rented plus cached) never exceeds the budget. A rent that does not fit waits, first come first
/// served, until returns make room (backpressure on the reader). With a <see cref="IStagingMemoryRegistrar"/>, each block
/// is registered (page-locked) with the decoder's device when allocated and unregistered when freed, so that cached blocks
/// are registered once for many sections.
/// </summary>
/// <remarks>
/// Concurrency: any thread may rent and return. <c>_lock</c> guards the free lists, the waiter queue and the counters'
/// writes; waiters are completed outside it (their continuations run asynchronously).
/// </remarks>
internal sealed class StagingPool : IDisposable
{
    /// <summary>Alignment of every block: a page, as direct I/O and device copies want.</summary>
    public const int Alignment = 4096;

    private readonly object _lock = new();
    private readonly Dictionary<int, Stack<StagingBuffer>> _free = [];
    private readonly LinkedList<Waiter> _waiters = new();
    private long _allocated;      // bytes of native blocks alive: rented + cached
    private long _rented;         // bytes of blocks rented out
    private int _rentedBuffers;
    private long _waits;
    private long _registered;     // bytes of blocks alive with a device registration
    private bool _disposed;
    private readonly IStagingMemoryRegistrar? _registrar;

    public StagingPool(long budget, IStagingMemoryRegistrar? registrar = null)
    {
        Budget = budget;
        _registrar = registrar;
    }

    /// <summary>The most bytes of blocks alive at once.</summary>
    public long Budget { get; }

    /// <summary>Bytes of blocks rented out now.</summary>
    public long RentedBytes => Interlocked.Read(ref _rented);

    /// <summary>Bytes of native blocks alive now (rented plus cached).</summary>
    public long AllocatedBytes => Interlocked.Read(ref _allocated);

    /// <summary>Blocks rented out now.</summary>
    public int RentedBuffers => Volatile.Read(ref _rentedBuffers);

    /// <summary>Bytes of blocks alive now that are registered (page-locked) with the decoder's device.</summary>
    public long RegisteredBytes => Interlocked.Read(ref _registered);

    /// <summary>Rents that had to wait for room since the pool was created.</summary>
    public long Waits => Interlocked.Read(ref _waits);

    /// <summary>Rents a block of at least <paramref name="length"/> bytes, waiting for room if the budget is used up.</summary>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="length"/> exceeds the budget (it would wait forever).</exception>
    public ValueTask<StagingBuffer> RentAsync(int length, CancellationToken cancellationToken)
    {
        if (length < 1 || length > Budget)
            throw new ArgumentOutOfRangeException(nameof(length), length, $"A staging block must be 1 to {Budget} bytes.");
        Waiter waiter;
        LinkedListNode<Waiter> node;
        lock (_lock)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            if (_waiters.Count == 0 && TryRentLocked(length) is { } buffer)
                return new ValueTask<StagingBuffer>(buffer);
            _waits++;
            waiter = new Waiter(length);
            node = _waiters.AddLast(waiter);
        }
        if (cancellationToken.CanBeCanceled)
        {
            CancellationTokenRegistration registration = cancellationToken.Register(() => CancelWaiter(node, cancellationToken));
            lock (_lock)
            {
                if (node.List is not null)
                {
                    waiter.Registration = registration; // Read under the lock by whoever grants the waiter.
                    registration = default;
                }
            }
            registration.Dispose(); // Already granted or cancelled: nothing left to cancel.
        }
        return new ValueTask<StagingBuffer>(waiter.Completion.Task);
    }

    /// <summary>Gives a block back; it is cached for the next rent of its size, and waiters that now fit get theirs.</summary>
    public void Return(StagingBuffer buffer)
    {
        lock (_lock)
        {
            _rented -= buffer.Capacity;
            _rentedBuffers--;
            buffer.Length = 0;
            if (buffer.Pooled && !_disposed)
            {
                if (!_free.TryGetValue(buffer.Capacity, out Stack<StagingBuffer>? stack))
                    _free[buffer.Capacity] = stack = new Stack<StagingBuffer>();
                stack.Push(buffer);
            }
            else
            {
                FreeLocked(buffer);
            }
        }
        GrantWaiters();
    }

    /// <summary>Frees the cached blocks; blocks still rented are freed when returned.</summary>
    public void Dispose()
    {
        lock (_lock)
        {
            _disposed = true;
            TrimLocked(long.MaxValue);
        }
    }

    private StagingBuffer? TryRentLocked(int length)
    {
        (int capacity, bool pooled) = SizeFor(length);
        if (pooled && _free.TryGetValue(capacity, out Stack<StagingBuffer>? stack) && stack.TryPop(out StagingBuffer? cached))
        {
            Rented(cached);
            return cached;
        }
        if (_allocated + capacity > Budget)
            TrimLocked(_allocated + capacity - Budget); // Cached blocks of other sizes make room for this one.
        if (_allocated + capacity > Budget)
            return null;
        var buffer = new StagingBuffer(capacity, pooled);
        _allocated += capacity;
        if (_registrar is not null)
        {
            try
            {
                // SAFETY: the block stays allocated and unmoved until FreeLocked ends the registration, then frees it.
                buffer.Registration = _registrar.Register(buffer.Address, capacity);
            }
            catch
            {
                FreeLocked(buffer); // A registrar that throws (a lost device) must not leak the block or its budget.
                throw;
            }
            if (buffer.Registration is not null)
                _registered += capacity;
        }
        Rented(buffer);
        return buffer;
    }

    private void Rented(StagingBuffer buffer)
    {
        _rented += buffer.Capacity;
        _rentedBuffers++;
    }

    // Powers of two from one page, so that blocks are reused across the varying payload sizes of entropy-coded sections;
    // a payload whose power of two would not fit the budget gets an exact (page-rounded, else 64-byte-rounded) block.
    private (int Capacity, bool Pooled) SizeFor(int length)
    {
        long pow2 = (long)BitOperations.RoundUpToPowerOf2((uint)Math.Max(length, Alignment));
        if (pow2 <= Budget && pow2 <= Array.MaxLength)
            return ((int)pow2, true);
        long page = (length + (long)Alignment - 1) / Alignment * Alignment;
        return page <= Budget ? ((int)page, false) : ((length + 63) / 64 * 64 <= Budget ? (length + 63) / 64 * 64 : length, false);
    }

    private void TrimLocked(long bytes)
    {
        long freed = 0;
        foreach (Stack<StagingBuffer> stack in _free.Values)
        {
            while (freed < bytes && stack.TryPop(out StagingBuffer? buffer))
            {
                freed += buffer.Capacity;
                FreeLocked(buffer);
            }
        }
    }

    private void FreeLocked(StagingBuffer buffer)
    {
        _allocated -= buffer.Capacity;
        if (buffer.Registration is not null)
            _registered -= buffer.Capacity;
        buffer.Free();
    }

    private void CancelWaiter(LinkedListNode<Waiter> node, CancellationToken token)
    {
        lock (_lock)
        {
            if (node.List is null)
                return; // Already granted: the renter receives the block and must return it.
            _waiters.Remove(node);
        }
        node.Value.Completion.TrySetCanceled(token);
        // A waiter at the head that gave up may have been holding back smaller ones behind it.
        GrantWaiters();
    }

    private void GrantWaiters()
    {
        List<(Waiter, StagingBuffer, CancellationTokenRegistration)>? granted = null;
        lock (_lock)
        {
            while (_waiters.First is { } first && TryRentLocked(first.Value.Length) is { } next)
            {
                _waiters.RemoveFirst();
                (granted ??= []).Add((first.Value, next, first.Value.Registration));
            }
        }
        if (granted is null)
            return;
        foreach ((Waiter waiter, StagingBuffer next, CancellationTokenRegistration registration) in granted)
        {
            registration.Unregister(); // Not Dispose: that would wait for a running cancel callback, which takes _lock.
            waiter.Completion.SetResult(next);
        }
    }

    private sealed class Waiter(int length)
    {
        public int Length { get; } = length;

        public TaskCompletionSource<StagingBuffer> Completion { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

        /// <summary>Under _lock.</summary>
        public CancellationTokenRegistration Registration { get; set; }
    }
}
