using KvTier.Keys;

namespace KvTier.Blend;

/// <summary>
/// One run of consecutive target positions in a <see cref="BlendPlan"/>: what fills positions
/// <c>[TargetStart, TargetStart + TokenCount)</c> of the blended prompt.
/// </summary>
/// <remarks>Immutable; safe to share. Create it with <see cref="Segment"/>, <see cref="SegmentTokens"/>, <see cref="Prefix"/> or <see cref="Compute"/>.</remarks>
public sealed record BlendEntry
{
    private BlendEntry(BlendEntryKind kind, ChunkKey? key, ReadOnlyMemory<int> tokens, int tokenCount, int targetStart)
    {
        if (tokenCount < 1)
            throw new ArgumentOutOfRangeException(nameof(tokenCount), tokenCount, "An entry covers at least one token.");
        Kind = kind;
        Key = key;
        Tokens = tokens;
        TokenCount = tokenCount;
        TargetStart = targetStart;
    }

    /// <summary>Where the KV comes from.</summary>
    public BlendEntryKind Kind { get; }

    /// <summary>The stored chunk's key; null for <see cref="BlendEntryKind.Compute"/> and for a token span the blender keys itself.</summary>
    public ChunkKey? Key { get; }

    /// <summary>The tokens of a <see cref="SegmentTokens"/> entry (the blender derives their segment keys); empty otherwise.</summary>
    public ReadOnlyMemory<int> Tokens { get; }

    /// <summary>Positions the entry covers, at least 1.</summary>
    public int TokenCount { get; }

    /// <summary>First position the entry covers in the blended prompt (validated by <see cref="BlendPlan"/>).</summary>
    public int TargetStart { get; }

    /// <summary>One past the last position the entry covers.</summary>
    public long TargetEnd => (long)TargetStart + TokenCount;

    /// <summary>A stored chunk under a segment key, of <paramref name="tokenCount"/> tokens, placed at <paramref name="targetStart"/>.</summary>
    /// <param name="key">The chunk's segment key (<see cref="ChunkKeys.SegmentKey"/>).</param>
    /// <param name="tokenCount">Tokens in the chunk; the stored record must hold exactly this many.</param>
    /// <param name="targetStart">Position of its first token in the blended prompt.</param>
    public static BlendEntry Segment(ChunkKey key, int tokenCount, int targetStart) =>
        new(BlendEntryKind.Segment, key, ReadOnlyMemory<int>.Empty, tokenCount, targetStart);

    /// <summary>
    /// A run of raw tokens to reuse from wherever it was stored: the blender splits it into chunks of
    /// <see cref="ChunkKeys.ChunkTokens"/> and looks each up by its segment key. Chunks not in the store are computed in full.
    /// </summary>
    /// <param name="tokens">The tokens, at least one; the entry keeps a reference, not a copy.</param>
    /// <param name="targetStart">Position of the first token in the blended prompt.</param>
    public static BlendEntry SegmentTokens(ReadOnlyMemory<int> tokens, int targetStart) =>
        new(BlendEntryKind.Segment, null, tokens, tokens.Length, targetStart);

    /// <summary>A stored chunk under a prefix key, reused exactly where it was computed (see <see cref="BlendEntryKind.Prefix"/>).</summary>
    /// <param name="key">The chunk's prefix key (<see cref="ChunkKeys.PrefixKeys"/>).</param>
    /// <param name="tokenCount">Tokens in the chunk.</param>
    /// <param name="targetStart">Its position, which must equal the position the record was computed at.</param>
    public static BlendEntry Prefix(ChunkKey key, int tokenCount, int targetStart) =>
        new(BlendEntryKind.Prefix, key, ReadOnlyMemory<int>.Empty, tokenCount, targetStart);

    /// <summary>Positions the engine computes in full.</summary>
    /// <param name="tokenCount">How many.</param>
    /// <param name="targetStart">The first of them.</param>
    public static BlendEntry Compute(int tokenCount, int targetStart) =>
        new(BlendEntryKind.Compute, null, ReadOnlyMemory<int>.Empty, tokenCount, targetStart);
}
