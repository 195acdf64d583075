namespace KvTier.Prefetch;

/// <summary>A snapshot of a prefetcher's counters (<see cref="Prefetcher.GetStatistics"/>), since it was created.</summary>
public sealed record PrefetcherStatistics
{
    /// <summary>The decode stage's <see cref="Decoding.ISectionDecoder.Name"/> ("cpu-simd", "cuda", "opencl"): where sections are decoded.</summary>
    public string Decoder { get; init; } = "";

    /// <summary>Requests started.</summary>
    public long Requests { get; init; }

    /// <summary>Requests whose pipeline is still running.</summary>
    public int ActiveRequests { get; init; }

    /// <summary>The staging budget (<see cref="PrefetcherOptions.StagingBudgetBytes"/>).</summary>
    public long StagingBudgetBytes { get; init; }

    /// <summary>Bytes of staging blocks rented out now (0 when no request runs: nothing leaks).</summary>
    public long StagingRentedBytes { get; init; }

    /// <summary>Staging blocks rented out now.</summary>
    public int StagingRentedBuffers { get; init; }

    /// <summary>Bytes of pinned staging memory allocated now (rented plus cached for reuse); never above the budget.</summary>
    public long StagingAllocatedBytes { get; init; }

    /// <summary>
    /// Bytes of staging memory registered (page-locked) with the decoder's device now: all of
    /// <see cref="StagingAllocatedBytes"/> with a CUDA decoder, 0 with the CPU decoder or a device that cannot register host memory.
    /// </summary>
    public long StagingPageLockedBytes { get; init; }

    /// <summary>Times a reader waited for staging memory (backpressure).</summary>
    public long BackpressureWaits { get; init; }

    /// <summary>
    /// Sections read and checked, ready for a decoder: copied into staging memory after their checksum passed, or handed
    /// to the CPU decoder in place (<see cref="PrefetcherOptions.CpuDecodeInPlace"/>).
    /// </summary>
    public long SectionsStaged { get; init; }

    /// <summary>Sections decoded into a destination.</summary>
    public long SectionsDecoded { get; init; }

    /// <summary>Chunks reported corrupt to a request (checksum failure or an undecodable payload).</summary>
    public long CorruptChunks { get; init; }
}
