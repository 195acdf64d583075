namespace KvTier.Format.Codecs.Ans;

/// <summary>
/// Constants of the <c>ans</c> bitstream (format-spec/kvtier-format.md §9.1, §9.2) shared by the encoder and the decoder.
/// </summary>
internal static class AnsFormat
{
    /// <summary>The only <c>layout_version</c> of format v1.</summary>
    public const byte LayoutVersion = 1;

    /// <summary>
    /// Bytes before the scales: layout_version, scale_axis, scale_type, prediction, B, a reserved byte, N (u16), G (u16) and
    /// two reserved bytes.
    /// </summary>
    public const int HeaderSize = 12;

    /// <summary>Largest <c>bound B</c> without prediction: 2·127 + 1 = 255 symbols, which fit a byte.</summary>
    public const int MaxBound = 127;

    /// <summary>Largest <c>bound B</c> with prediction 1: differences span [−2B, 2B], 4·63 + 1 = 253 symbols.</summary>
    public const int MaxPredictedBound = 63;

    /// <summary>Largest alphabet: 255 symbols (prediction 0 at B = 127).</summary>
    public const int MaxAlphabet = 2 * MaxBound + 1;

    /// <summary>Largest lane count a payload may declare.</summary>
    public const int MaxLanes = 1024;

    /// <summary>Largest lane count KvTier's encoder writes (§9.5).</summary>
    public const int MaxEncoderLanes = 32;

    /// <summary>Frequency precision: tables sum to 2^12.</summary>
    public const int ProbabilityBits = 12;

    /// <summary>What every frequency table sums to.</summary>
    public const int ProbabilityScale = 1 << ProbabilityBits;

    /// <summary>Lower end of the state interval [2^16, 2^32), and the state every lane starts (encoder) and ends (decoder) in.</summary>
    public const uint StateLow = 1u << 16;

    /// <summary>Bytes of one lane header: u32 state, u32 word_count.</summary>
    public const int LaneHeaderSize = 8;

    /// <summary>Elements per section allowed by the record format (§4).</summary>
    public const long MaxElements = 1L << 27;

    /// <summary>Bytes of one stored scale: 4 for binary32, 2 for binary16.</summary>
    public static int ScaleSize(AnsScaleType type) => type == AnsScaleType.Float16 ? 2 : 4;

    /// <summary>
    /// The group width W of a per-token axis: head_dim for <see cref="AnsScaleAxis.PerTokenHead"/>, kv_dim for
    /// <see cref="AnsScaleAxis.PerToken"/>. Scale <c>t·(kv_dim / W) + c div W</c> then serves element (t, c).
    /// </summary>
    public static int TokenGroupWidth(AnsScaleAxis axis, int headDim, int kvDim) => axis == AnsScaleAxis.PerToken ? kvDim : headDim;

    /// <summary>S, the number of scales for an axis and a section shape (§9.1).</summary>
    public static long ScaleCount(AnsScaleAxis axis, int tokens, int kvHeads, int kvDim) => axis switch
    {
        AnsScaleAxis.PerChannel => kvDim,
        AnsScaleAxis.PerTokenHead => (long)tokens * kvHeads,
        _ => tokens,
    };

    /// <summary>Whether the bits of a stored binary16 scale are finite and ≥ 0 (−0 included), as §9.1 requires.</summary>
    public static bool IsValidScale(ushort halfBits) => ((halfBits & 0x7C00) != 0x7C00 && (halfBits & 0x8000) == 0) || halfBits == 0x8000;

    /// <summary>Whether a stored binary32 scale is finite and ≥ 0 (−0 compares equal to 0 and is allowed), as §9.1 requires.</summary>
    public static bool IsValidScale(float scale) => float.IsFinite(scale) && scale >= 0;

    /// <summary>Alphabet size A for a bound and a prediction mode (§9.1).</summary>
    public static int Alphabet(int bound, int prediction) => prediction == 0 ? 2 * bound + 1 : 4 * bound + 1;

    /// <summary>Zigzag symbol of a value: 0, −1, 1, −2, 2, … map to 0, 1, 2, 3, 4, … (§9.2).</summary>
    public static int ToSymbol(int value) => value >= 0 ? 2 * value : -2 * value - 1;

    /// <summary>Value of a zigzag symbol: <c>s/2</c> for even <c>s</c>, <c>−(s+1)/2</c> for odd <c>s</c> (§9.2).</summary>
    public static int ToValue(int symbol) => (symbol & 1) == 0 ? symbol >> 1 : -((symbol + 1) >> 1);

    /// <summary>Lane count KvTier's encoder uses for <paramref name="elements"/> elements: <c>clamp(2^⌊log2(n / 4096)⌋, 1, 32)</c> (§9.5).</summary>
    public static int EncoderLanes(long elements)
    {
        long blocks = elements / 4096; // ⌊log2(n/4096)⌋ = ⌊log2(⌊n/4096⌋)⌋ for n ≥ 4096; below that the clamp gives 1
        if (blocks < 1)
            return 1;
        return (int)Math.Min(MaxEncoderLanes, 1L << System.Numerics.BitOperations.Log2((ulong)blocks));
    }

    /// <summary>Number of symbols lane <paramref name="lane"/> of <paramref name="lanes"/> carries in a section of <paramref name="elements"/> elements.</summary>
    public static int LaneSymbols(long elements, int lanes, int lane) =>
        lane >= elements ? 0 : (int)((elements - lane + lanes - 1) / lanes);

    /// <summary>
    /// The section's element count, after checking that the shape is one a section may have and that the caller's
    /// span of values (to encode, or to decode into) holds exactly that many.
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException">The shape is outside the format's limits.</exception>
    /// <exception cref="ArgumentException"><paramref name="valueCount"/> is not the section's element count.</exception>
    public static int CheckedElementCount(in SectionContext context, int valueCount)
    {
        int tokens = context.TokenCount;
        int kvDim = context.Layout.KvDim;
        if (tokens < 1 || (long)tokens * kvDim > MaxElements)
            throw new ArgumentOutOfRangeException(nameof(context), tokens, $"A section holds 1 to {MaxElements} elements; {tokens} tokens of {kvDim} channels do not fit.");
        int n = tokens * kvDim;
        if (valueCount != n)
            throw new ArgumentException($"The section has {n} values; the span holds {valueCount}.", "values");
        return n;
    }
}
