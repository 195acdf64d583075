using System.Diagnostics;
using KvTier.Prefetch;
using KvTier.Prefetch.Decoding;

namespace KvTier.Cli.Commands;

/// <summary>
/// The demo's decode stage: the prefetcher's chosen decoder, timed. It records when the last section of each layer
/// finished decoding, which is when the prefetcher marks the layer ready (layers complete in order, so layer <c>l</c> is
/// ready once it and every earlier layer are decoded), and the decode time summed over sections. Timing inside the
/// pipeline does not depend on when a waiting thread gets a core: on a machine with few cores, a waiter wakes only after
/// the pipeline's own threads yield, which can be after the whole load.
/// </summary>
/// <remarks>
/// Concurrency: <see cref="DecodeAsync"/> runs on the prefetcher's decode workers at once; per-layer end times and the
/// busy sum are updated with interlocked operations. <see cref="Begin"/> and <see cref="LayerReady"/> are for one
/// request at a time, before it starts and after it completed.
/// </remarks>
internal sealed class LayerTimingDecoder(ISectionDecoder inner) : ISectionDecoder, IStagingMemoryRegistrar
{
    private long _start;
    private long[] _layerDecoded = [];
    private long _busyTicks;

    /// <summary>The decoder timed.</summary>
    public ISectionDecoder Inner { get; } = inner;

    /// <inheritdoc/>
    public string Name => Inner.Name;

    /// <inheritdoc/>
    public bool DecodesUnstagedPayloads => Inner.DecodesUnstagedPayloads;

    /// <summary>Decode time summed over the sections of the request since <see cref="Begin"/>, over all workers.</summary>
    public TimeSpan Busy => Stopwatch.GetElapsedTime(0, Interlocked.Read(ref _busyTicks));

    /// <summary>Starts timing a request of <paramref name="layers"/> layers from <paramref name="start"/> (a <see cref="Stopwatch"/> timestamp).</summary>
    public void Begin(int layers, long start)
    {
        _start = start;
        _layerDecoded = new long[layers];
        Interlocked.Exchange(ref _busyTicks, 0);
    }

    /// <summary>
    /// When layer <paramref name="layer"/> was ready, from the start: when it and every earlier layer had their last
    /// section decoded; null when no section up to it was decoded (no chunk found), so the pipeline never timed it.
    /// </summary>
    public TimeSpan? LayerReady(int layer)
    {
        long latest = 0;
        for (int l = 0; l <= layer; l++)
            latest = Math.Max(latest, Interlocked.Read(ref _layerDecoded[l]));
        return latest == 0 ? null : Stopwatch.GetElapsedTime(_start, latest);
    }

    /// <inheritdoc/>
    public async ValueTask DecodeAsync(StagedSection section, Memory<float> destination, CancellationToken cancellationToken)
    {
        long began = Stopwatch.GetTimestamp();
        await Inner.DecodeAsync(section, destination, cancellationToken).ConfigureAwait(false);
        long ended = Stopwatch.GetTimestamp();
        Interlocked.Add(ref _busyTicks, ended - began);
        long[] decoded = _layerDecoded;
        long seen;
        while (ended > (seen = Interlocked.Read(ref decoded[section.Layer])) && Interlocked.CompareExchange(ref decoded[section.Layer], ended, seen) != seen)
        {
        }
    }

    /// <summary>Staging memory goes to the timed decoder's device, if it registers any (a GPU decoder page-locks it).</summary>
    public IDisposable? Register(nint address, long length) => (Inner as IStagingMemoryRegistrar)?.Register(address, length);
}
