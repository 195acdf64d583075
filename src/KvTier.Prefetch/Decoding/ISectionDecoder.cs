namespace KvTier.Prefetch.Decoding;

/// <summary>
/// The decode stage of a <see cref="Prefetcher"/>: turns one staged section into binary32 values in the destination.
/// The CPU implementation is <see cref="CpuSectionDecoder"/>; the GPU one is <see cref="AcceleratorSectionDecoder"/>;
/// <see cref="SectionDecoders.Best"/> picks between them. A device decoder may also implement
/// <see cref="IStagingMemoryRegistrar"/> to have the staging blocks page-locked for its copies.
/// </summary>
/// <remarks>
/// Called concurrently from up to <see cref="PrefetcherOptions.DecodeParallelism"/> workers per request, each with its
/// own section and destination block; implementations must be thread-safe.
/// </remarks>
public interface ISectionDecoder
{
    /// <summary>A short name for logs and statistics ("cpu-simd", "cuda").</summary>
    string Name { get; }

    /// <summary>
    /// Whether this decoder can decode a payload that was not copied into staging memory: the tier's own bytes (a memory
    /// map or a memory-tier buffer, <see cref="StagedSection.IsStaged"/> false), which are neither page-locked nor
    /// 4 KiB-aligned. Only then does <see cref="PrefetcherOptions.CpuDecodeInPlace"/> apply. Default: false (a device
    /// decoder needs page-locked staging for its copies); <see cref="CpuSectionDecoder"/> says true, and a decoder that
    /// wraps another should say what the wrapped one says.
    /// </summary>
    bool DecodesUnstagedPayloads => false;

    /// <summary>
    /// Decodes <paramref name="section"/> into <paramref name="destination"/>: exactly
    /// <see cref="StagedSection.ElementCount"/> values, bit-identical to <c>ChunkRecord.DecodeSection</c>.
    /// </summary>
    /// <exception cref="KvTier.Format.ChunkRecordException">The payload is malformed: the request reports the chunk corrupt and carries on.</exception>
    ValueTask DecodeAsync(StagedSection section, Memory<float> destination, CancellationToken cancellationToken);
}
