using KvTier.Keys;

namespace KvTier.Storage.Remote;

/// <summary>
/// A tier beyond this machine that holds whole chunk records by key: a <c>kvtier serve</c> server (KvTier.Remote) or
/// Redis (KvTier.Redis). It sits last in a store's tier chain (local memory → local disk → remote).
/// </summary>
/// <remarks>
/// Contract for implementations, which the store relies on:
/// <list type="bullet">
/// <item>Every call returns within the implementation's own timeout. A dead, slow or refusing remote is a miss
/// (<c>null</c>, <c>false</c>), never a hang and never an exception: the engine must be able to recompute instead.
/// Only misuse (a disposed tier, a null argument) and the caller's own cancellation throw.</item>
/// <item>What <see cref="TryGetAsync"/> returns is a complete record whose header and every section checksum were
/// verified, and whose header key equals the key asked for; anything else is a miss (counted as corruption).</item>
/// <item>Safe to call from any number of threads at once.</item>
/// </list>
/// </remarks>
public interface IRemoteTier : IAsyncDisposable
{
    /// <summary>Where this tier points, for logs and statistics (for example <c>kvtier://127.0.0.1:7400</c>); never a secret.</summary>
    string Name { get; }

    /// <summary>The record stored under <paramref name="key"/>, verified; <c>null</c> on a miss, a failure or a timeout.</summary>
    ValueTask<byte[]?> TryGetAsync(ChunkKey key, CancellationToken cancellationToken = default);

    /// <summary>
    /// Stores one chunk record under the key in its header. True once the remote has acknowledged it durable (as the
    /// remote defines durable); false when it was dropped (remote down, refused, timed out).
    /// </summary>
    /// <exception cref="ArgumentException">The bytes are not a chunk record (checked before anything is sent).</exception>
    ValueTask<bool> PutAsync(ReadOnlyMemory<byte> record, CancellationToken cancellationToken = default);

    /// <summary>
    /// How many of <paramref name="keys"/>, from the first, the remote holds (the longest stored prefix of a request's
    /// prefix keys); 0 on a failure or a timeout.
    /// </summary>
    ValueTask<int> LongestPrefixAsync(IReadOnlyList<ChunkKey> keys, CancellationToken cancellationToken = default);

    /// <summary>Deletes the record under <paramref name="key"/>; true if the remote had it and removed it, false otherwise or on a failure.</summary>
    ValueTask<bool> DeleteAsync(ChunkKey key, CancellationToken cancellationToken = default);
}
