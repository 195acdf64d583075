using KvTier.Keys;

namespace KvTier.StoreBench;

/// <summary>
/// A system under test: stores whole chunk records by key and reads them back into a caller's buffer. Every
/// system does the same work per operation, so their numbers compare.
/// </summary>
/// <remarks>Used from one thread at a time, except where a runner says otherwise.</remarks>
internal interface IStoreSystem : IDisposable
{
    /// <summary>Short name for tables and JSON.</summary>
    string Name { get; }

    /// <summary>Stores records; they are durable (survive power loss) when this returns.</summary>
    void Put(ReadOnlySpan<BenchRecord> records);

    /// <summary>Work the system defers after acknowledged puts (a RocksDB memtable flush) so reads come from its files; returns nothing to time.</summary>
    void Settle();

    /// <summary>Copies a record's bytes into <paramref name="destination"/>; returns its length, or −1 when absent.</summary>
    int Get(ChunkKey key, byte[] destination);

    /// <summary>Whether a key is stored.</summary>
    bool Contains(ChunkKey key);

    /// <summary>Readies the system for a cold read: closes what would keep pages mapped, then reopens.</summary>
    void PrepareCold();

    /// <summary>The files holding record bytes, to drop from the page cache for a cold read.</summary>
    IEnumerable<string> DataFiles();
}
