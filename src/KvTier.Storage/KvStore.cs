using System.Collections.Concurrent;
using KvTier.Keys;
using KvTier.Storage.Index;
using KvTier.Storage.Memory;
using KvTier.Storage.Segments;

namespace KvTier.Storage;

/// <summary>
/// A durable, tiered store of chunk records: a memory tier of pinned buffers over a disk tier of append-only,
/// memory-mapped segment files (format-spec/segment-file.md) indexed in RocksDB (format-spec/metadata-schema.md).
/// A put is acknowledged once its bytes and index entry are durable; gets return only records that pass their
/// checksums; a crash at any instant loses nothing acknowledged.
/// </summary>
/// <remarks>
/// Concurrency: every public method may be called from any thread. One writer thread does all appends, syncs, index
/// batches, evictions and compaction steps, in order (group commit); readers never wait for it. <c>_lock</c> guards the
/// in-memory index (<c>_records</c>, the LRU list, segment accounting); it is held only for lookups and updates, never
/// across I/O. Bytes handed out stay valid under a <see cref="RecordLease"/>.
/// </remarks>
public sealed partial class KvStore : IDisposable
{
    /// <summary>The lock file in the store directory.</summary>
    public const string LockFileName = "kvtier.lock";

    /// <summary>The RocksDB index directory in the store directory.</summary>
    public const string IndexDirectoryName = "index";

    /// <summary>The segment directory in the store directory.</summary>
    public const string SegmentDirectoryName = "segments";

    private readonly object _lock = new();
    private readonly Dictionary<ChunkKey, DiskRecord> _records = [];
    private readonly LruList _lru = new();
    private readonly Dictionary<ulong, SegmentFile> _segments = [];
    private readonly List<DiskRecord> _dirtyAccess = [];
    private readonly MemoryTier _memory;
    private readonly StoreIndex _index;
    private readonly FileStream _lockFile;
    private readonly BlockingCollection<WriteOp> _queue = new();
    private readonly Thread _writer;
    private readonly Guid _storeId;

    private StoreCounters _lifetimeBase = StoreCounters.Zero;
    private SegmentFile? _active;
    private ulong _nextSegmentId;
    private ulong _sequence;          // last sequence number handed out (writer only)
    private long _accessTick;         // LRU clock (Interlocked)
    private long _liveBytes;          // under _lock
    private volatile Exception? _writerFault;
    private int _disposed;
    private int _compactionQueued;    // 1 while a background compaction pass is queued or running

    private long _memoryHits, _diskHits, _misses, _puts, _deletes, _evictions, _corruptions, _segmentsCompacted, _bytesWritten,
        _groupCommits, _openLeases, _recoveredRecords, _truncatedBytes, _memoryBytesRead, _diskBytesRead, _recordsReadAhead;

    private KvStore(KvStoreOptions options, FileStream lockFile, StoreIndex index, Guid storeId)
    {
        Options = options;
        _lockFile = lockFile;
        _index = index;
        _storeId = storeId;
        _memory = new MemoryTier(options.MemoryCapacityBytes);
        SegmentDirectory = Path.Combine(options.Directory, SegmentDirectoryName);
        _writer = new Thread(WriterLoop) { IsBackground = true, Name = "KvTier store writer" };
    }

    /// <summary>The options the store was opened with.</summary>
    public KvStoreOptions Options { get; }

    /// <summary>The store's identity, written in every segment header.</summary>
    public Guid StoreId => _storeId;

    internal string SegmentDirectory { get; }

    /// <summary>
    /// Opens the store in <see cref="KvStoreOptions.Directory"/> (creating it if allowed), recovering from any crash:
    /// complete records written past the last commit are indexed, a torn tail is cut, records whose segment file is
    /// missing or damaged are dropped and counted as corruption events.
    /// </summary>
    /// <exception cref="KvStoreException">Bad options, the directory is locked by another process, it is not a store, or its index is damaged.</exception>
    public static KvStore Open(KvStoreOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        UnixFile.EnsureSupported();
        string directory = Path.GetFullPath(options.Directory);
        if (File.Exists(directory))
            throw new KvStoreException(StoreErrorKind.NotAStore, $"{directory} is a file, not a store directory.");
        if (!Directory.Exists(directory))
        {
            if (!options.CreateIfMissing)
                throw new KvStoreException(StoreErrorKind.NotAStore, $"{directory} does not exist (and {nameof(KvStoreOptions)}.{nameof(KvStoreOptions.CreateIfMissing)} is false).");
            Directory.CreateDirectory(directory);
        }
        FileStream lockFile = AcquireLock(directory, out bool createdLock);
        StoreIndex? index = null;
        try
        {
            string segmentDirectory = Path.Combine(directory, SegmentDirectoryName);
            string indexDirectory = Path.Combine(directory, IndexDirectoryName);
            bool hasIndex = Directory.Exists(indexDirectory) && Directory.EnumerateFileSystemEntries(indexDirectory).Any();
            bool hasSegments = Directory.Exists(segmentDirectory) && Directory.EnumerateFiles(segmentDirectory, "*" + SegmentFormat.FileExtension).Any();
            if (!hasIndex && hasSegments)
                throw new KvStoreException(StoreErrorKind.IndexDamaged, $"{directory} has segment files but no index; `kvtier repair {directory}` rebuilds the index from them.");
            if (!hasIndex && !options.CreateIfMissing)
                throw new KvStoreException(StoreErrorKind.NotAStore, $"{directory} is not a KvTier store (no index).");
            if (!hasIndex && Directory.EnumerateFileSystemEntries(directory).Any(e => Path.GetFileName(e) is not (LockFileName or SegmentDirectoryName or IndexDirectoryName)))
                throw new KvStoreException(StoreErrorKind.NotAStore, $"{directory} holds other files and is not a KvTier store; use an empty or new directory.");
            Directory.CreateDirectory(segmentDirectory);
            index = StoreIndex.Open(indexDirectory, create: !hasIndex);
            Guid storeId = hasIndex ? CheckFormat(index, directory) : Initialize(index);
            var store = new KvStore(options with { Directory = directory }, lockFile, index, storeId);
            try
            {
                store.Recover();
            }
            catch
            {
                store.CloseSegments();
                throw;
            }
            store._writer.Start();
            store.StartRemoteWriter();
            store.AfterOpen();
            return store;
        }
        catch
        {
            index?.Dispose();
            if (createdLock && !Directory.Exists(Path.Combine(directory, IndexDirectoryName)))
                File.Delete(lockFile.Name); // Leave a directory that is not a store as it was.
            lockFile.Dispose();
            throw;
        }
    }

    private static FileStream AcquireLock(string directory) => AcquireLock(directory, out _);

    private static FileStream AcquireLock(string directory, out bool created)
    {
        string path = Path.Combine(directory, LockFileName);
        created = !File.Exists(path);
        try
        {
            // FileShare.None takes an exclusive advisory lock (flock) on Unix: a second process, or a second open in
            // this one, fails here.
            return new FileStream(path, FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None, 1, FileOptions.None);
        }
        catch (IOException ex)
        {
            throw new KvStoreException(StoreErrorKind.Locked, $"{directory} is open in another process or store instance (its {LockFileName} is locked).", ex);
        }
        catch (UnauthorizedAccessException ex)
        {
            throw new KvStoreException(StoreErrorKind.NotAStore, $"{directory}: cannot create {LockFileName} ({ex.Message}).", ex);
        }
    }

    private static Guid Initialize(StoreIndex index)
    {
        Guid storeId = Guid.NewGuid();
        using StoreIndex.Batch batch = index.CreateBatch();
        batch.PutFormat(StoreIndex.SchemaVersion, StoreIndex.SchemaVersion);
        batch.PutStoreId(storeId);
        batch.PutSequence(0);
        index.Commit(batch, sync: true);
        return storeId;
    }

    private static Guid CheckFormat(StoreIndex index, string directory)
    {
        if (index.ReadFormat() is not { } format || index.ReadStoreId() is not { } storeId)
            throw new KvStoreException(StoreErrorKind.IndexDamaged, $"the index in {directory} has no format or store id; `kvtier repair {directory}` rebuilds it.");
        if (format.MinReader > StoreIndex.SchemaVersion)
            throw new KvStoreException(StoreErrorKind.NotAStore, $"{directory} needs index schema reader version {format.MinReader}; this is version {StoreIndex.SchemaVersion}.");
        return storeId;
    }

    /// <summary>Whether the store holds <paramref name="key"/> (any tier). Does not count as a get.</summary>
    public bool Contains(ChunkKey key)
    {
        lock (_lock)
            return _records.ContainsKey(key);
    }

    /// <summary>
    /// How many of <paramref name="prefixKeys"/>, from the first, are stored: the length of the longest stored prefix
    /// (prefix keys chain, so a request can reuse exactly that many chunks).
    /// </summary>
    public int LongestPrefix(ReadOnlySpan<ChunkKey> prefixKeys)
    {
        lock (_lock)
        {
            for (int i = 0; i < prefixKeys.Length; i++)
            {
                if (!_records.ContainsKey(prefixKeys[i]))
                    return i;
            }
        }
        return prefixKeys.Length;
    }

    /// <summary>A snapshot of every stored record, in key order.</summary>
    public IReadOnlyList<StoredEntry> Enumerate()
    {
        List<StoredEntry> entries;
        lock (_lock)
        {
            entries = new List<StoredEntry>(_records.Count);
            foreach (DiskRecord r in _records.Values)
            {
                ChunkEntry e = r.Entry;
                entries.Add(new StoredEntry(r.Key, e.KeyKind, e.Codec, e.Level, e.TokenCount, e.RecordLength, e.SegmentId, e.Offset, e.Sequence, InMemory: false));
            }
        }
        entries.Sort((a, b) => a.Key.CompareTo(b.Key));
        for (int i = 0; i < entries.Count; i++)
        {
            if (_memory.TryGet(entries[i].Key, entries[i].Sequence, out MemoryRecord copy, touch: false))
            {
                copy.Release();
                entries[i] = entries[i] with { InMemory = true };
            }
        }
        return entries;
    }

    /// <summary>The store's counters now.</summary>
    public StoreStatistics GetStatistics()
    {
        long entries, live, data;
        int segments;
        lock (_lock)
        {
            entries = _records.Count;
            live = _liveBytes;
            data = _segments.Values.Sum(s => s.DataBytes);
            segments = _segments.Count;
        }
        RemoteTierCounters remote = RemoteCounters();
        return new StoreStatistics
        {
            Entries = entries,
            LiveBytes = live,
            DeadBytes = Math.Max(0, data - live),
            Segments = segments,
            MemoryEntries = _memory.Count,
            MemoryBytes = _memory.OwnedBytes,
            MemoryHits = Interlocked.Read(ref _memoryHits),
            DiskHits = Interlocked.Read(ref _diskHits),
            Misses = Interlocked.Read(ref _misses),
            Puts = Interlocked.Read(ref _puts),
            Deletes = Interlocked.Read(ref _deletes),
            Evictions = Interlocked.Read(ref _evictions),
            MemoryEvictions = _memory.Evictions,
            CorruptionEvents = Interlocked.Read(ref _corruptions),
            SegmentsCompacted = Interlocked.Read(ref _segmentsCompacted),
            BytesWritten = Interlocked.Read(ref _bytesWritten),
            MemoryBytesRead = Interlocked.Read(ref _memoryBytesRead),
            DiskBytesRead = Interlocked.Read(ref _diskBytesRead),
            RemoteBytesRead = remote.BytesRead,
            GroupCommits = Interlocked.Read(ref _groupCommits),
            OpenLeases = Interlocked.Read(ref _openLeases),
            RecoveredRecords = Interlocked.Read(ref _recoveredRecords),
            TruncatedBytes = Interlocked.Read(ref _truncatedBytes),
            RemoteHits = remote.Hits,
            RemoteMisses = remote.Misses,
            RemoteWrites = remote.Writes,
            RemoteWritesDropped = remote.WritesDropped,
            RemoteWritesQueued = remote.Queued,
            Lifetime = LifetimeCounters(),
        };
    }

    private StoreCounters SinceOpen() => new(
        Interlocked.Read(ref _memoryHits), Interlocked.Read(ref _diskHits), Interlocked.Read(ref _misses), Interlocked.Read(ref _puts),
        Interlocked.Read(ref _deletes), Interlocked.Read(ref _evictions), Interlocked.Read(ref _corruptions));

    private StoreCounters LifetimeCounters() => _lifetimeBase.Add(SinceOpen());

    /// <summary>Per-segment accounting, in id order (for <c>kvtier inspect</c>).</summary>
    public IReadOnlyList<SegmentInfo> GetSegments()
    {
        lock (_lock)
        {
            return _segments.Values.OrderBy(s => s.Id)
                .Select(s => new SegmentInfo(s.Id, s.Path, s.State, s.Capacity, s.CommittedEnd, s.LiveBytes, s.LiveRecords, s.Leases))
                .ToList();
        }
    }

    /// <summary>
    /// Waits until everything submitted before this call is committed and synced to the device (also under
    /// <see cref="DurabilityMode.NoSync"/>), and persists LRU access times.
    /// </summary>
    public void Flush() => Submit(new FlushOp()).GetAwaiter().GetResult();

    /// <summary>Drops the store's page-cache pages of every segment (benchmarks that measure cold reads).</summary>
    public void DropPageCache()
    {
        List<SegmentFile> segments;
        lock (_lock)
            segments = [.. _segments.Values];
        foreach (SegmentFile s in segments)
        {
            if (s.TryAcquire())
            {
                s.DropFromPageCache();
                s.Release();
            }
        }
    }

    /// <summary>
    /// Commits what is pending, persists LRU access times and closes the store. Leases still held stay valid until
    /// disposed (their segments and buffers are released then).
    /// </summary>
    public void Dispose()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
            return;
        StopRemoteWriter();
        try
        {
            if (_writerFault is null)
                Submit(new FlushOp(), allowClosed: true).GetAwaiter().GetResult();
        }
        catch (KvStoreException)
        {
            // The writer failed earlier; everything acknowledged is already durable.
        }
        _queue.CompleteAdding();
        _writer.Join();
        _staging?.Dispose();
        CloseSegments();
        _memory.Dispose();
        _index.Dispose();
        _lockFile.Dispose();
        _queue.Dispose();
    }

    private void CloseSegments()
    {
        lock (_lock)
        {
            foreach (SegmentFile s in _segments.Values)
                s.CloseWhenUnleased();
            _segments.Clear();
        }
    }

    internal void LeaseReleased() => Interlocked.Decrement(ref _openLeases);

    private void ThrowIfDisposed() => ObjectDisposedException.ThrowIf(Volatile.Read(ref _disposed) != 0, this);
}
