using KvTier.Prefetch.Decoding;

namespace KvTier.Prefetch;

/// <summary>
/// How a <see cref="Prefetcher"/> runs. Validated once, when the prefetcher is created, with a message naming the option.
/// Output is binary32 (the record's element type widened exactly, as <c>ChunkRecord.DecodeSection</c> gives it); other
/// output types are not supported yet.
/// </summary>
public sealed record PrefetcherOptions
{
    /// <summary>1 MiB.</summary>
    public const long MiB = 1L << 20;

    /// <summary>The largest staging budget accepted: 64 GiB.</summary>
    public const long MaxStagingBudgetBytes = 64L * 1024 * MiB;

    /// <summary>The largest decode parallelism accepted.</summary>
    public const int MaxDecodeParallelism = 256;

    /// <summary>
    /// Bytes of pinned, 4 KiB-aligned staging memory the prefetcher may hold, for all its requests together: payloads
    /// read from the store wait there for a decoder. When it is used up, readers wait (backpressure) until decoders give
    /// buffers back. Each section needs a buffer of at least its payload size, so a request whose largest section payload
    /// exceeds the budget fails with <see cref="PrefetchErrorKind.BudgetTooSmall"/>. Default: 64 MiB. More lets reads run
    /// further ahead of decoding (smoother with bursty remote tiers); less bounds memory tighter, and below about one
    /// layer of all chunks the reader and the decoders take turns instead of overlapping.
    /// </summary>
    public long StagingBudgetBytes { get; init; } = 64 * MiB;

    /// <summary>
    /// Sections each request decodes at once (decode workers per request). Default: the processor count. More uses more
    /// cores for entropy-coded records; 1 keeps one core for the engine.
    /// </summary>
    public int DecodeParallelism { get; init; } = Environment.ProcessorCount;

    /// <summary>
    /// How many layers the read stage may run ahead of the first layer not yet delivered: before staging layer L it
    /// waits until layer L − <see cref="MaxLayersAhead"/> is ready. Bounds read-ahead by layers as well as by bytes, so
    /// that staging does not run far ahead of decoding and take the cores and caches the early layers need. 1 to 1024.
    /// Default: 2.
    /// </summary>
    public int MaxLayersAhead { get; init; } = 2;

    /// <summary>
    /// Stop loading the chunks after the first missing (not found, corrupt or mismatched) one and report them as
    /// <see cref="ChunkStatus.Skipped"/>. With prefix keys a chunk's KV depends on everything before it, so nothing
    /// after a missing chunk is reusable and loading it only costs I/O and decode. Leave false for requests whose chunks
    /// are independent (segment keys, blending). Default: false (every available chunk arrives).
    /// </summary>
    public bool SkipChunksAfterMissing { get; init; }

    /// <summary>
    /// With the CPU decoder (<see cref="CpuSectionDecoder"/>, or any decoder whose
    /// <see cref="ISectionDecoder.DecodesUnstagedPayloads"/> is true) and a host destination, decode each section straight from
    /// the tier's bytes — the record's memory map or its memory-tier buffer, which the request's lease keeps in place —
    /// once its checksum has been checked, instead of first copying it into a staging block. This saves one copy of every
    /// byte (for raw records from the memory tier, about as much work as the decode itself) and uses no staging memory;
    /// read-ahead is then bounded by <see cref="MaxLayersAhead"/> alone, and the bytes read ahead stay in the page cache
    /// or the memory tier, which the store already bounds. Device decoders and other decoders always stage (a device copy
    /// needs page-locked memory). Default: true. False stages every section, as a device decoder would.
    /// </summary>
    public bool CpuDecodeInPlace { get; init; } = true;

    /// <summary>
    /// The decode stage. Default: null, meaning automatic placement (<see cref="SectionDecoders.Best"/>): the best GPU
    /// (CUDA first, then OpenCL) through ILGPU when one is present, else <see cref="CpuSectionDecoder.Instance"/> (the
    /// native CPU SIMD decoders of KvTier.Format); never ILGPU's CPU accelerator. A decoder chosen automatically belongs
    /// to the prefetcher, which disposes it; one set here belongs to the caller, who disposes it after the prefetcher.
    /// Automatic placement costs a one-time device probe per process and, with a GPU, a kernel compilation per prefetcher.
    /// See <see cref="Prefetcher.Decoder"/> for the one in use.
    /// </summary>
    public ISectionDecoder? Decoder { get; init; }

    internal void Validate()
    {
        if (StagingBudgetBytes < 1 || StagingBudgetBytes > MaxStagingBudgetBytes)
            throw Invalid(nameof(StagingBudgetBytes), $"is {StagingBudgetBytes}; it must be between 1 and {MaxStagingBudgetBytes} bytes (64 GiB).");
        if (MaxLayersAhead is < 1 or > 1024)
            throw Invalid(nameof(MaxLayersAhead), $"is {MaxLayersAhead}; it must be between 1 and 1024.");
        if (DecodeParallelism < 1 || DecodeParallelism > MaxDecodeParallelism)
            throw Invalid(nameof(DecodeParallelism), $"is {DecodeParallelism}; it must be between 1 and {MaxDecodeParallelism}.");
    }

    private static PrefetchException Invalid(string option, string problem) =>
        new(PrefetchErrorKind.InvalidOptions, $"{nameof(PrefetcherOptions)}.{option} {problem}");
}
