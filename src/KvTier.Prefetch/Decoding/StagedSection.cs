using KvTier.Format;
using KvTier.Prefetch.Staging;

namespace KvTier.Prefetch.Decoding;

/// <summary>
/// One section's payload, checksum-verified, with what a decoder needs to know about it: either copied into pinned
/// staging memory, or (CPU decoding in place, <see cref="PrefetcherOptions.CpuDecodeInPlace"/>) the tier's own bytes,
/// held by the request's lease. Valid only during the <see cref="ISectionDecoder.DecodeAsync"/> call it is passed to:
/// the pipeline returns the staging block and may release the record's lease afterwards.
/// </summary>
public readonly unsafe struct StagedSection
{
    private readonly StagingBuffer? _buffer;
    private readonly byte* _payload;
    private readonly int _length;

    internal StagedSection(StagingBuffer buffer, ChunkRecord record, int chunk, int layer, SectionKind kind)
        : this(buffer, buffer.Pointer, buffer.Length, record, chunk, layer, kind)
    {
    }

    /// <summary>A section decoded in place from the tier's bytes. SAFETY: see <see cref="PayloadAddress"/>.</summary>
    internal StagedSection(byte* payload, int length, ChunkRecord record, int chunk, int layer, SectionKind kind)
        : this(null, payload, length, record, chunk, layer, kind)
    {
    }

    private StagedSection(StagingBuffer? buffer, byte* payload, int length, ChunkRecord record, int chunk, int layer, SectionKind kind)
    {
        _buffer = buffer;
        _payload = payload;
        _length = length;
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
    public ReadOnlySpan<byte> Payload => new(_payload, _length);

    /// <summary>
    /// The payload's address, for a device copy. SAFETY: native memory that never moves, valid for
    /// <see cref="PayloadLength"/> bytes until the decode call returns (or its task completes): a pinned, 4 KiB-aligned
    /// staging block, or (<see cref="IsStaged"/> false, CPU decoders only) the record's memory map or memory-tier
    /// buffer, which the request's lease keeps mapped and unchanged until every section of the record is decoded.
    /// </summary>
    public nint PayloadAddress => (nint)_payload;

    /// <summary>Bytes of payload.</summary>
    public int PayloadLength => _length;

    /// <summary>True when the payload was copied into a staging block (page-locked for a device decoder); false when it is the tier's own bytes.</summary>
    public bool IsStaged => _buffer is not null;

    /// <summary>The staging block to give back after decoding, or null for a section decoded in place.</summary>
    internal StagingBuffer? Buffer => _buffer;
}
