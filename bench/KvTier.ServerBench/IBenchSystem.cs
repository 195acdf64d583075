using KvTier.Keys;
using KvTier.StoreBench;

namespace KvTier.ServerBench;

/// <summary>One way of moving records over loopback: kvtier serve, Redis, or the raw TCP limit.</summary>
internal interface IBenchSystem : IAsyncDisposable
{
    /// <summary>Short name for tables and JSON.</summary>
    string Name { get; }

    /// <summary>What it is, in one line.</summary>
    string Description { get; }

    /// <summary>Stores a record; throws if the system refused it (a benchmark must not time silent drops).</summary>
    Task PutAsync(BenchRecord record);

    /// <summary>Reads a record back whole; returns its length; throws on a miss.</summary>
    Task<int> GetAsync(BenchRecord record);

    /// <summary>Looks up <paramref name="keys"/> in one request; returns how many are held (null: not supported).</summary>
    Task<int>? LookupAsync(ChunkKey[] keys);
}
