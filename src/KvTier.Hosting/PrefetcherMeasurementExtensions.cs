using System.Diagnostics;
using KvTier.Keys;
using KvTier.Prefetch;

namespace KvTier.Hosting;

/// <summary>Prefetch requests whose latency the <c>KvTier</c> meter records (<see cref="KvTierMetrics.Track"/>).</summary>
public static class PrefetcherMeasurementExtensions
{
    /// <summary>
    /// <see cref="Prefetcher.Start"/>, and records the request's load latency (<c>kvtier.prefetch.load.duration</c>),
    /// first-layer latency, overlap and loaded chunks in <paramref name="metrics"/> when it ends. Costs one timestamp and
    /// one awaiting task per request, nothing per layer or section.
    /// </summary>
    /// <param name="prefetcher">The prefetcher.</param>
    /// <param name="metrics">Where to record.</param>
    /// <param name="keys">As <see cref="Prefetcher.Start"/>.</param>
    /// <param name="destination">As <see cref="Prefetcher.Start"/>.</param>
    /// <param name="cancellationToken">As <see cref="Prefetcher.Start"/>.</param>
    /// <returns>The request, as <see cref="Prefetcher.Start"/> returns it.</returns>
    public static PrefetchRequest StartMeasured(this Prefetcher prefetcher, KvTierMetrics metrics, IReadOnlyList<ChunkKey> keys, KvDestination destination,
        CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(prefetcher);
        ArgumentNullException.ThrowIfNull(metrics);
        long start = Stopwatch.GetTimestamp();
        PrefetchRequest request = prefetcher.Start(keys, destination, cancellationToken);
        metrics.Track(request, start);
        return request;
    }
}
