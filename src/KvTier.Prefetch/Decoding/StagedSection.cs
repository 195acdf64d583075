using KvTier.Format;
using KvTier.Prefetch.Staging;

namespace KvTier.Prefetch.Decoding;

/// <summary>
/// One section's payload, checksum-verified and copied into pinned staging memory, with what a decoder needs to know
/// about it. Valid only during the <see cref="ISectionDecoder.DecodeAsync"/> call it is passed to: the pipeline returns
/// the staging block and may release the record's lease afterwards.
/// </summary>
public readonly struct StagedSection
{
    private readonly StagingBuffer _buffer;

    internal StagedSection(StagingBuffer buffer, ChunkRecord record, int chunk, int layer, SectionKind kind)
    {
        _buffer = buffer;
        Record = record;
        Chunk = chunk;
        Layer = layer;
        Kind = kind;
    }

    /// <summary>
    /// The record the section belongs to (header, layout, codec, section table). Its bytes stay valid for the call
    /// (the request holds the record's lease until every staged section of it is decoded).
    /// </summary>
    public ChunkRecord Record { get; }

    /// <summary>The chunk's index in the request.</summary>
    public int Chunk { get; }

    /// <summary>The section's layer.</summary>
    public int Layer { get; }

    /// <summary>Keys or values.</summary>
    public SectionKind Kind { get; }

    /// <summary>Values the section decodes to: tokens × KV width.</summary>
    public int ElementCount => Record.Header.TokenCount * Record.Header.Layout.KvDim;

    /// <summary>The staged payload (its checksum was verified when it was staged).</summary>
    public ReadOnlySpan<byte> Payload => _buffer.Payload;

    /// <summary>
    /// The staged payload's address, for a device copy. SAFETY: pinned native memory, 4 KiB-aligned, valid for
    /// <see cref="PayloadLength"/> bytes until the decode call returns (or its task completes).
    /// </summary>
    public unsafe nint PayloadAddress => (nint)_buffer.Pointer;

    /// <summary>Bytes of payload.</summary>
    public int PayloadLength => _buffer.Length;

    internal StagingBuffer Buffer => _buffer;
}
