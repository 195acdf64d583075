using KvTier.Keys;
using KvTier.Storage;

namespace KvTier.StoreBench;

/// <summary>
/// The KvTier store. A one-record put is <see cref="KvStore.Put"/>, a larger one <see cref="KvStore.PutBatch"/>; a get
/// is <see cref="KvStore.TryGet(ChunkKey, out RecordLease?)"/>, a copy of the lease's bytes into the caller's buffer, and the lease's disposal.
/// </summary>
/// <remarks><see cref="PutAsync"/> may be called concurrently (the store's group commit); the rest from one thread.</remarks>
internal sealed class KvTierSystem : IStoreSystem
{
    private readonly string _name;
    private KvStoreOptions _options;
    private KvStore _store;
    private long _memoryHits;
    private long _diskHits;

    public KvTierSystem(string name, KvStoreOptions options)
    {
        _name = name;
        _options = options;
        _store = KvStore.Open(options);
    }

    public string Name => _name;

    public KvStoreOptions Options => _options;

    public void Put(ReadOnlySpan<BenchRecord> records)
    {
        if (records.Length == 1)
        {
            Check(records[0], _store.Put(records[0].Bytes));
            return;
        }

        var batch = new ReadOnlyMemory<byte>[records.Length];
        for (int i = 0; i < records.Length; i++)
            batch[i] = records[i].Bytes;
        IReadOnlyList<ChunkKey> keys = _store.PutBatch(batch);
        for (int i = 0; i < records.Length; i++)
            Check(records[i], keys[i]);
    }

    public async ValueTask PutAsync(BenchRecord record) => Check(record, await _store.PutAsync(record.Bytes).ConfigureAwait(false));

    public void Settle()
    {
    }

    public int Get(ChunkKey key, byte[] destination)
    {
        if (!_store.TryGet(key, out RecordLease? lease))
            return -1;
        using (lease)
        {
            ReadOnlySpan<byte> bytes = lease.Bytes.Span;
            bytes.CopyTo(destination);
            if (lease.Tier == StoreTier.Memory)
                _memoryHits++;
            else
                _diskHits++;
            return bytes.Length;
        }
    }

    public bool Contains(ChunkKey key) => _store.Contains(key);

    public void PrepareCold() => Reopen(_options);

    /// <summary>Closes the store (releasing its mappings) and opens the same directory with other options.</summary>
    public void Reopen(KvStoreOptions options)
    {
        _store.Dispose();
        _options = options;
        _store = KvStore.Open(options);
        _memoryHits = _diskHits = 0;
    }

    /// <summary>Where this object's gets were served from since the last reopen, for the tables.</summary>
    public string TierNote() => $"tiers: {_memoryHits:N0} memory, {_diskHits:N0} disk";

    public StoreStatistics Statistics() => _store.GetStatistics();

    public IEnumerable<string> DataFiles() => Directory.EnumerateFiles(Path.Combine(_options.Directory, "segments"));

    public void Dispose() => _store.Dispose();

    private static void Check(BenchRecord record, ChunkKey stored)
    {
        if (stored != record.Key)
            throw new InvalidOperationException($"The store filed record {record.Key} under {stored}.");
    }
}
