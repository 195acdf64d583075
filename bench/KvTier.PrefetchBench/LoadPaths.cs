using System.Diagnostics;
using System.Runtime.CompilerServices;
using KvTier.Format;
using KvTier.Keys;
using KvTier.Prefetch;
using KvTier.Storage;

namespace KvTier.PrefetchBench;

/// <summary>One timed full-prefetch request.</summary>
/// <param name="LayerReadyMs">When each layer's <see cref="PrefetchRequest.WaitForLayerAsync"/> returned, from <see cref="Prefetcher.Start"/>.</param>
/// <param name="PeakStagingAllocatedBytes">Staging bytes allocated (rented plus cached), the most seen at any layer's completion or the end.</param>
/// <param name="PeakStagingRentedBytes">Staging bytes rented out, the most seen at any layer's completion.</param>
/// <param name="BackpressureWaits">Reader waits for staging memory during this request.</param>
internal sealed record PrefetchRun(double TotalMs, double[] LayerReadyMs, long PeakStagingAllocatedBytes, long PeakStagingRentedBytes, long BackpressureWaits);

/// <summary>
/// The four ways of loading a request's chunks that the benchmark compares. Each runs on the calling thread (the
/// decode stages fan out to <c>parallelism</c> workers) and returns elapsed milliseconds.
/// </summary>
/// <remarks>Not thread-safe: one load at a time.</remarks>
internal static class LoadPaths
{
    /// <summary>
    /// (a) I/O only: what the prefetcher's reader does, with no decoder behind it. Lease every record (header
    /// verification), then layer-major read every section through its checksum and copy it into staging memory.
    /// </summary>
    /// <param name="firstLayerMs">When every chunk's layer 0 was staged: the I/O floor for the first layer.</param>
    // Optimized from the first call: the harness calls each path only a few times, so with tiered compilation its
    // loops would stay unoptimized (tier 0) for the whole run and the baseline would time the JIT, not the I/O.
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static double IoOnly(KvStore store, ChunkKey[] keys, int layers, StagingRing ring, out double firstLayerMs)
    {
        var leases = new RecordLease[keys.Length];
        firstLayerMs = 0;
        long start = Stopwatch.GetTimestamp();
        try
        {
            for (int i = 0; i < keys.Length; i++)
                leases[i] = Lease(store, keys[i]);
            for (int layer = 0; layer < layers; layer++)
            {
                foreach (RecordLease lease in leases)
                {
                    for (int kind = 0; kind < 2; kind++)
                    {
                        if (!lease.TryGetSection(layer, (SectionKind)kind, out ReadOnlySpan<byte> payload))
                            throw new InvalidOperationException($"Chunk {lease.Key} layer {layer}: section checksum failed.");
                        ring.Copy(payload);
                    }
                }

                if (layer == 0)
                    firstLayerMs = Stopwatch.GetElapsedTime(start).TotalMilliseconds;
            }

            return Stopwatch.GetElapsedTime(start).TotalMilliseconds;
        }
        finally
        {
            foreach (RecordLease? lease in leases)
                lease?.Dispose();
        }
    }

    /// <summary>
    /// (b) Decode only: every section of records already in memory (parsed heap copies), decoded layer-major into its
    /// block of the destination by <paramref name="parallelism"/> workers, as the prefetcher's decode stage does. No
    /// checksum pass: the prefetcher's reader does that, so it is counted in (a).
    /// </summary>
    public static double DecodeOnly(ChunkRecord[] records, KvDestination destination, int parallelism)
    {
        int chunks = records.Length;
        int sections = 2 * destination.Layers * chunks;
        long start = Stopwatch.GetTimestamp();
        Parallel.For(0, sections, new ParallelOptions { MaxDegreeOfParallelism = parallelism }, i =>
        {
            int layer = i / (2 * chunks);
            int chunk = i % (2 * chunks) / 2;
            var kind = (SectionKind)(i & 1);
            ChunkRecord record = records[chunk];
            SectionEntry entry = record.Sections[2 * layer + (int)kind];
            ReadOnlySpan<byte> payload = record.Bytes.Span.Slice((int)entry.Offset, (int)entry.Length);
            Span<float> target = destination.Rows(layer, kind, chunk * destination.ChunkTokens, record.Header.TokenCount).Span;
            record.DecodePayload(layer, kind, payload, target);
        });
        return Stopwatch.GetElapsedTime(start).TotalMilliseconds;
    }

    /// <summary>(c) The full pipelined prefetch: <see cref="Prefetcher.Start"/>, then wait for each layer in order.</summary>
    /// <param name="awaitLayers">
    /// False: the main thread blocks on each layer (it is signalled directly). True: an async consumer awaits each
    /// layer, as an async engine would; its continuations run on the thread pool, which the pipeline's stages share.
    /// </param>
    public static PrefetchRun Prefetch(Prefetcher prefetcher, ChunkKey[] keys, KvDestination destination, bool awaitLayers = false)
    {
        var layerReady = new double[destination.Layers];
        long waitsBefore = prefetcher.GetStatistics().BackpressureWaits;
        long start = Stopwatch.GetTimestamp();
        PrefetchRequest request = prefetcher.Start(keys, destination);
        try
        {
            (long peakAllocated, long peakRented) = awaitLayers
                ? Task.Run(() => WaitForLayersAsync(prefetcher, request, start, layerReady)).GetAwaiter().GetResult()
                : WaitForLayersBlocking(prefetcher, request, start, layerReady);
            PrefetchResult result = request.Completion.GetAwaiter().GetResult();
            double total = Stopwatch.GetElapsedTime(start).TotalMilliseconds;
            if (result.ReusablePrefixChunks != keys.Length)
                throw new InvalidOperationException($"Only {result.ReusablePrefixChunks} of {keys.Length} chunks loaded: {string.Join(", ", result.Chunks)}.");
            PrefetcherStatistics end = prefetcher.GetStatistics();
            peakAllocated = Math.Max(peakAllocated, end.StagingAllocatedBytes);
            return new PrefetchRun(total, layerReady, peakAllocated, peakRented, end.BackpressureWaits - waitsBefore);
        }
        finally
        {
            request.DisposeAsync().AsTask().GetAwaiter().GetResult();
        }
    }

    private static (long Allocated, long Rented) WaitForLayersBlocking(Prefetcher prefetcher, PrefetchRequest request, long start, double[] layerReady)
    {
        long peakAllocated = 0, peakRented = 0;
        for (int layer = 0; layer < layerReady.Length; layer++)
        {
            request.WaitForLayerAsync(layer).AsTask().GetAwaiter().GetResult();
            layerReady[layer] = Stopwatch.GetElapsedTime(start).TotalMilliseconds;
            PrefetcherStatistics s = prefetcher.GetStatistics();
            peakAllocated = Math.Max(peakAllocated, s.StagingAllocatedBytes);
            peakRented = Math.Max(peakRented, s.StagingRentedBytes);
        }

        return (peakAllocated, peakRented);
    }

    private static async Task<(long Allocated, long Rented)> WaitForLayersAsync(Prefetcher prefetcher, PrefetchRequest request, long start, double[] layerReady)
    {
        long peakAllocated = 0, peakRented = 0;
        for (int layer = 0; layer < layerReady.Length; layer++)
        {
            await request.WaitForLayerAsync(layer).ConfigureAwait(false);
            layerReady[layer] = Stopwatch.GetElapsedTime(start).TotalMilliseconds;
            PrefetcherStatistics s = prefetcher.GetStatistics();
            peakAllocated = Math.Max(peakAllocated, s.StagingAllocatedBytes);
            peakRented = Math.Max(peakRented, s.StagingRentedBytes);
        }

        return (peakAllocated, peakRented);
    }

    /// <summary>
    /// (d) Naive: chunk after chunk, lease the record, copy it whole into a heap buffer and let the lease go, decode
    /// every section (checksum-verified, <paramref name="parallelism"/> workers) into a chunk-shaped buffer, then copy
    /// each section into the destination. Nothing is ready before the last chunk is. The buffers are reused, which
    /// flatters the baseline (a naive loader would allocate them).
    /// </summary>
    // Optimized from the first call: the harness calls each path only a few times, so with tiered compilation its
    // loops would stay unoptimized (tier 0) for the whole run and the baseline would time the JIT, not the I/O.
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static double Naive(KvStore store, ChunkKey[] keys, KvDestination destination, byte[] recordBuffer, float[] chunkBuffer, int parallelism)
    {
        var options = new ParallelOptions { MaxDegreeOfParallelism = parallelism };
        int layers = destination.Layers;
        long start = Stopwatch.GetTimestamp();
        for (int chunk = 0; chunk < keys.Length; chunk++)
        {
            int length;
            using (RecordLease lease = Lease(store, keys[chunk]))
            {
                length = lease.Bytes.Length;
                lease.Bytes.Span.CopyTo(recordBuffer);
            }

            var record = ChunkRecord.Parse(recordBuffer.AsMemory(0, length), "naive copy");
            int sectionValues = record.Header.TokenCount * record.Header.Layout.KvDim;
            Parallel.For(0, 2 * layers, options, i =>
                record.DecodeSection(i / 2, (SectionKind)(i & 1), chunkBuffer.AsSpan(i * sectionValues, sectionValues)));
            for (int i = 0; i < 2 * layers; i++)
            {
                chunkBuffer.AsSpan(i * sectionValues, sectionValues)
                    .CopyTo(destination.Rows(i / 2, (SectionKind)(i & 1), chunk * destination.ChunkTokens, record.Header.TokenCount).Span);
            }
        }

        return Stopwatch.GetElapsedTime(start).TotalMilliseconds;
    }

    private static RecordLease Lease(KvStore store, ChunkKey key) =>
        store.TryGet(key, ReadVerification.Header, out RecordLease? lease)
            ? lease
            : throw new InvalidOperationException($"Chunk {key} is not in the store.");
}
