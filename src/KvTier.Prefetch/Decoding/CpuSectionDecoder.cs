using KvTier.Format;

namespace KvTier.Prefetch.Decoding;

/// <summary>
/// Decodes sections on the calling thread with KvTier.Format's CPU decoders (SIMD where the host has it): bit-identical
/// to <see cref="ChunkRecord.DecodeSection"/>, because for the lossy codecs it is that call.
/// </summary>
/// <remarks>
/// Every section is decoded from its staged copy with <see cref="ChunkRecord.DecodePayload"/>: the read stage already
/// checked its checksum, so nothing is hashed twice. Stateless and thread-safe.
/// </remarks>
public sealed class CpuSectionDecoder : ISectionDecoder
{
    private CpuSectionDecoder()
    {
    }

    /// <summary>The decoder.</summary>
    public static CpuSectionDecoder Instance { get; } = new();

    /// <inheritdoc/>
    public string Name => "cpu-simd";

    /// <inheritdoc/>
    /// <remarks>True: the CPU decoders read any memory.</remarks>
    public bool DecodesUnstagedPayloads => true;

    /// <inheritdoc/>
    public ValueTask DecodeAsync(StagedSection section, Memory<float> destination, CancellationToken cancellationToken)
    {
        Decode(section, destination.Span);
        return ValueTask.CompletedTask;
    }

    /// <summary>Decodes synchronously (what <see cref="DecodeAsync"/> does).</summary>
    /// <exception cref="ChunkRecordException">The payload is malformed.</exception>
    public static void Decode(in StagedSection section, Span<float> destination)
    {
        if (destination.Length != section.ElementCount)
            throw new ArgumentException($"Destination holds {destination.Length} values; the section has {section.ElementCount}.", nameof(destination));
        section.Record.DecodePayload(section.Layer, section.Kind, section.Payload, destination);
    }
}
