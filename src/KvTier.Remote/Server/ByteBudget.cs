namespace KvTier.Remote.Server;

// A budget of bytes that requests take before they buffer a put body and give back afterwards; waiters are served in
// arrival order (a large put is not starved by small ones). Thread-safe: _waiters and _available are guarded by _lock;
// completions run outside it.
internal sealed class ByteBudget(long capacity)
{
    private readonly Lock _lock = new();
    private readonly LinkedList<Waiter> _waiters = new();
    private long _available = capacity;

    public long Capacity { get; } = capacity;

    public long InUse
    {
        get
        {
            lock (_lock)
                return Capacity - _available;
        }
    }

    public async ValueTask AcquireAsync(long bytes, CancellationToken cancellationToken)
    {
        if (bytes > Capacity)
            throw new ArgumentOutOfRangeException(nameof(bytes), $"{bytes} bytes exceed the whole budget of {Capacity}.");
        Waiter waiter;
        lock (_lock)
        {
            if (_waiters.Count == 0 && _available >= bytes)
            {
                _available -= bytes;
                return;
            }
            waiter = new Waiter(bytes);
            waiter.Node = _waiters.AddLast(waiter);
        }
        await using (cancellationToken.Register(() => Cancel(waiter)).ConfigureAwait(false))
            await waiter.Done.Task.ConfigureAwait(false);
    }

    public void Release(long bytes)
    {
        List<Waiter>? ready = null;
        lock (_lock)
        {
            _available += bytes;
            while (_waiters.First is { } first && first.Value.Bytes <= _available)
            {
                _available -= first.Value.Bytes;
                _waiters.RemoveFirst();
                first.Value.Node = null;
                (ready ??= []).Add(first.Value);
            }
        }
        if (ready is not null)
        {
            foreach (Waiter w in ready)
                w.Done.TrySetResult();
        }
    }

    private void Cancel(Waiter waiter)
    {
        lock (_lock)
        {
            if (waiter.Node is null)
                return; // Already granted: the caller's await completes normally and it releases as usual.
            _waiters.Remove(waiter.Node);
            waiter.Node = null;
        }
        waiter.Done.TrySetCanceled();
        Release(0); // The head may have been the one blocking others.
    }

    private sealed class Waiter(long bytes)
    {
        public long Bytes { get; } = bytes;

        public LinkedListNode<Waiter>? Node { get; set; }

        public TaskCompletionSource Done { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
    }
}
