using KvTier.Keys;

namespace KvTier.Storage.Memory;

/// <summary>
/// The memory tier: copies of recently used records in pinned, 4 KiB-aligned native buffers, bounded by a byte
/// capacity that counts every buffer it owns (cached, leased after eviction, or pooled for reuse), evicted LRU.
/// </summary>
/// <remarks>
/// Concurrency: all methods may run concurrently; one lock guards the map, the LRU list and the byte counts. Copies
/// into buffers happen outside the lock. A buffer evicted while leased is freed when its last lease is released.
/// </remarks>
internal sealed unsafe class MemoryTier : IDisposable
{
    private readonly object _lock = new();
    private readonly Dictionary<ChunkKey, MemoryRecord> _records = [];
    private readonly LinkedList<MemoryRecord> _lru = new();
    private readonly Dictionary<long, Stack<nint>> _pool = [];
    private long _ownedBytes;   // every buffer allocated and not freed
    private long _pooledBytes;  // of which idle in the pool
    private bool _disposed;

    public MemoryTier(long capacity)
    {
        Capacity = capacity;
    }

    public long Capacity { get; }

    public long Evictions { get; private set; }

    public int Count
    {
        get
        {
            lock (_lock)
                return _records.Count;
        }
    }

    public long OwnedBytes
    {
        get
        {
            lock (_lock)
                return _ownedBytes;
        }
    }

    /// <summary>Whether a copy of the record with sequence <paramref name="sequence"/> is cached (leases nothing, touches nothing).</summary>
    public bool Contains(ChunkKey key, ulong sequence)
    {
        lock (_lock)
            return _records.TryGetValue(key, out MemoryRecord? record) && record.Sequence == sequence;
    }

    /// <summary>A leased copy of the record, if cached with sequence <paramref name="sequence"/>; refreshes its LRU position.</summary>
    public bool TryGet(ChunkKey key, ulong sequence, out MemoryRecord record, bool touch = true)
    {
        lock (_lock)
        {
            if (_records.TryGetValue(key, out record!) && record.Sequence == sequence && record.TryAcquire())
            {
                if (touch)
                {
                    _lru.Remove(record.LruNode!);
                    _lru.AddLast(record.LruNode!);
                }
                return true;
            }
        }
        record = null!;
        return false;
    }

    /// <summary>Caches a copy of <paramref name="bytes"/> (replacing any older copy), evicting LRU copies to make room.</summary>
    public void Insert(ChunkKey key, ReadOnlySpan<byte> bytes, ulong sequence, bool verified)
    {
        if (Capacity == 0)
            return;
        long size = Segments.SegmentFormat.Align(Math.Max(bytes.Length, 1), Segments.SegmentFormat.BlockSize);
        if (size > Capacity / 2)
            return; // A record that would flush most of the tier is read from the page cache instead.
        byte* buffer = Rent(size);
        if (buffer == null)
            return;
        // SAFETY: the buffer was just rented for this record and nobody else sees it until it is published below.
        bytes.CopyTo(new Span<byte>(buffer, bytes.Length));
        var record = new MemoryRecord(this, buffer, size, bytes.Length, sequence, verified) { Key = key };
        lock (_lock)
        {
            if (_disposed)
            {
                record.Release();
                return;
            }
            RemoveLocked(key);
            record.LruNode = _lru.AddLast(record);
            _records[key] = record;
        }
    }

    /// <summary>Drops the cached copy of <paramref name="key"/> (deleted, evicted or replaced on disk).</summary>
    public void Remove(ChunkKey key)
    {
        lock (_lock)
            RemoveLocked(key);
    }

    private void RemoveLocked(ChunkKey key)
    {
        if (_records.Remove(key, out MemoryRecord? old))
        {
            _lru.Remove(old.LruNode!);
            old.Release();
        }
    }

    private byte* Rent(long size)
    {
        lock (_lock)
        {
            if (_pool.TryGetValue(size, out Stack<nint>? stack) && stack.Count > 0)
            {
                _pooledBytes -= size;
                return (byte*)stack.Pop();
            }
            // Make room: first idle pooled buffers, then LRU records (their buffers come back when unleased).
            while (_ownedBytes + size > Capacity)
            {
                if (_pooledBytes > 0)
                {
                    FreeOnePooledLocked();
                    continue;
                }
                if (_lru.First is not { } oldest)
                    return null; // Everything left is leased by readers: do not cache this one.
                RemoveLocked(oldest.Value.Key);
                Evictions++;
            }
            _ownedBytes += size;
        }
        return MemoryRecord.Allocate(size);
    }

    internal void ReturnBuffer(byte* buffer, long size)
    {
        lock (_lock)
        {
            if (!_disposed && _ownedBytes <= Capacity)
            {
                if (!_pool.TryGetValue(size, out Stack<nint>? stack))
                    _pool[size] = stack = new Stack<nint>();
                stack.Push((nint)buffer);
                _pooledBytes += size;
                return;
            }
            _ownedBytes -= size;
        }
        MemoryRecord.Free(buffer);
    }

    private void FreeOnePooledLocked()
    {
        foreach ((long size, Stack<nint> stack) in _pool)
        {
            if (stack.Count == 0)
                continue;
            MemoryRecord.Free((byte*)stack.Pop());
            _pooledBytes -= size;
            _ownedBytes -= size;
            return;
        }
    }

    public void Dispose()
    {
        lock (_lock)
        {
            if (_disposed)
                return;
            foreach (ChunkKey key in _records.Keys.ToArray())
                RemoveLocked(key);
            while (_pooledBytes > 0)
                FreeOnePooledLocked();
            _disposed = true;
        }
    }
}
