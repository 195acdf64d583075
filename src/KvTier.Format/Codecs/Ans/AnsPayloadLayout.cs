using System.Buffers.Binary;
using System.Runtime.CompilerServices;

namespace KvTier.Format.Codecs.Ans;

/// <summary>
/// The fields and region offsets of one <c>ans</c> payload, validated against format-spec/kvtier-format.md §9.1:
/// <code>
///  offset  size        field
///  0       1           layout_version      1
///  1       1           scale_axis          1 (S = kv_dim), 2 (S = token_count·kv_heads) or 3 (S = token_count)
///  2       1           scale_type          1 (f32, 4 bytes) or 2 (f16, 2 bytes)
///  3       1           prediction          0 or 1
///  4       1           bound B             1..127 (prediction 0), 1..63 (prediction 1)
///  5       1           reserved            0
///  6       2           lanes N             1..1024
///  8       2           table_groups G      1..kv_dim, kv_dim mod G = 0
///  10      2           reserved            0
///  12      size·S      scales              finite, ≥ 0 (−0 allowed)
///  ...     2·A·G       frequency tables    u16, A = 2B+1 or 4B+1, each table sums to 4096
///  ...     8·N         lane headers        u32 state in [2^16, 2^32), u32 word_count
///  ...     2·W         lane streams        u16 words, W = Σ word_count; the payload ends here
/// </code>
/// Parsing reads only the payload and allocates nothing, so a decoder can size its buffers from a layout that
/// already agrees with the payload's length.
/// </summary>
internal readonly struct AnsPayloadLayout
{
    private AnsPayloadLayout(AnsScaleAxis scaleAxis, AnsScaleType scaleType, int prediction, int bound, int lanes, int tableGroups, int scaleCount, int tablesOffset, int laneHeadersOffset, int streamsOffset, int wordCount)
    {
        ScaleAxis = scaleAxis;
        ScaleType = scaleType;
        Prediction = prediction;
        Bound = bound;
        Lanes = lanes;
        TableGroups = tableGroups;
        ScaleCount = scaleCount;
        TablesOffset = tablesOffset;
        LaneHeadersOffset = laneHeadersOffset;
        StreamsOffset = streamsOffset;
        WordCount = wordCount;
    }

    /// <summary>Which elements share a scale.</summary>
    public AnsScaleAxis ScaleAxis { get; }

    /// <summary>How the scales are stored.</summary>
    public AnsScaleType ScaleType { get; }

    /// <summary>0: none; 1: previous token (§9.3).</summary>
    public int Prediction { get; }

    /// <summary>B: quantized values lie in [−B, B].</summary>
    public int Bound { get; }

    /// <summary>N, the number of lanes.</summary>
    public int Lanes { get; }

    /// <summary>G, the number of frequency tables.</summary>
    public int TableGroups { get; }

    /// <summary>S, the number of scales.</summary>
    public int ScaleCount { get; }

    /// <summary>A, the number of symbols of each table.</summary>
    public int Alphabet => AnsFormat.Alphabet(Bound, Prediction);

    /// <summary>Where the scales start (always 12).</summary>
    public int ScalesOffset => AnsFormat.HeaderSize;

    /// <summary>Bytes of one stored scale.</summary>
    public int ScaleSize => AnsFormat.ScaleSize(ScaleType);

    /// <summary>Where the frequency tables start.</summary>
    public int TablesOffset { get; }

    /// <summary>Where the lane headers start.</summary>
    public int LaneHeadersOffset { get; }

    /// <summary>Where the lane streams start.</summary>
    public int StreamsOffset { get; }

    /// <summary>W, the total number of 16-bit words in the lane streams.</summary>
    public int WordCount { get; }

    /// <summary>Validates every field of §9.1 against the section and the payload's length.</summary>
    /// <exception cref="ChunkRecordException">Any rule of §9.1 is broken (<see cref="ChunkRecordErrorKind.BadPayload"/>), with the offset of the offending field.</exception>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static AnsPayloadLayout Parse(in SectionContext context, ReadOnlySpan<byte> payload)
    {
        int kvDim = context.Layout.KvDim;
        if (payload.Length < AnsFormat.HeaderSize)
            throw context.BadPayload($"ans payload of {payload.Length} bytes is shorter than its {AnsFormat.HeaderSize}-byte header.", payload.Length);
        if (payload[0] != AnsFormat.LayoutVersion)
            throw context.BadPayload($"ans layout_version is {payload[0]}; format v1 knows only {AnsFormat.LayoutVersion}.", 0);
        var scaleAxis = (AnsScaleAxis)payload[1];
        if (scaleAxis is not (AnsScaleAxis.PerChannel or AnsScaleAxis.PerTokenHead or AnsScaleAxis.PerToken))
            throw context.BadPayload($"ans scale_axis is {payload[1]}; it must be 1, 2 or 3.", 1);
        var scaleType = (AnsScaleType)payload[2];
        if (scaleType is not (AnsScaleType.Float32 or AnsScaleType.Float16))
            throw context.BadPayload($"ans scale_type is {payload[2]}; it must be 1 (f32) or 2 (f16).", 2);
        int prediction = payload[3];
        if (prediction > 1)
            throw context.BadPayload($"ans prediction is {prediction}; it must be 0 or 1.", 3);
        int bound = payload[4];
        int maxBound = prediction == 0 ? AnsFormat.MaxBound : AnsFormat.MaxPredictedBound;
        if (bound < 1 || bound > maxBound)
            throw context.BadPayload($"ans bound B is {bound}; with prediction {prediction} it must be within [1, {maxBound}].", 4);
        if (payload[5] != 0)
            throw context.BadPayload($"ans reserved byte 5 is {payload[5]}; it must be 0.", 5);
        int lanes = BinaryPrimitives.ReadUInt16LittleEndian(payload[6..]);
        if (lanes is < 1 or > AnsFormat.MaxLanes)
            throw context.BadPayload($"ans lane count N is {lanes}; it must be within [1, {AnsFormat.MaxLanes}].", 6);
        int groups = BinaryPrimitives.ReadUInt16LittleEndian(payload[8..]);
        if (groups < 1 || groups > kvDim || kvDim % groups != 0)
            throw context.BadPayload($"ans table_groups G is {groups}; it must divide kv_dim = {kvDim}.", 8);
        if (payload[10] != 0 || payload[11] != 0)
            throw context.BadPayload($"ans reserved bytes 10-11 are {payload[10]}, {payload[11]}; they must be 0.", payload[10] != 0 ? 10 : 11);

        long scaleCount = AnsFormat.ScaleCount(scaleAxis, context.TokenCount, context.Layout.KvHeads, kvDim);
        int scaleSize = AnsFormat.ScaleSize(scaleType);
        long tablesOffset = AnsFormat.HeaderSize + scaleSize * scaleCount;
        RequireLength(context, payload, tablesOffset, "scales");
        ValidateScales(context, payload[AnsFormat.HeaderSize..(int)tablesOffset], scaleType);

        int alphabet = AnsFormat.Alphabet(bound, prediction);
        long laneHeadersOffset = tablesOffset + 2L * alphabet * groups;
        RequireLength(context, payload, laneHeadersOffset, "frequency tables");
        for (int g = 0; g < groups; g++)
        {
            int at = (int)tablesOffset + 2 * alphabet * g;
            int sum = 0; // at most 253 · 65535: no overflow
            for (int s = 0; s < alphabet; s++)
                sum += BinaryPrimitives.ReadUInt16LittleEndian(payload[(at + 2 * s)..]);
            if (sum != AnsFormat.ProbabilityScale)
                throw context.BadPayload($"ans frequency table {g} sums to {sum}, not {AnsFormat.ProbabilityScale}.", at);
        }

        long streamsOffset = laneHeadersOffset + (long)AnsFormat.LaneHeaderSize * lanes;
        RequireLength(context, payload, streamsOffset, "lane headers");
        long words = 0;
        for (int j = 0; j < lanes; j++)
        {
            int at = (int)laneHeadersOffset + AnsFormat.LaneHeaderSize * j;
            uint state = BinaryPrimitives.ReadUInt32LittleEndian(payload[at..]);
            if (state < AnsFormat.StateLow)
                throw context.BadPayload($"ans lane {j} starts in state {state}, below 2^16.", at);
            words += BinaryPrimitives.ReadUInt32LittleEndian(payload[(at + 4)..]);
        }

        long end = streamsOffset + 2 * words;
        if (payload.Length < end)
            throw context.BadPayload($"ans lane streams need {2 * words} bytes from offset {streamsOffset}; the payload ends at {payload.Length}.", payload.Length);
        if (payload.Length > end)
            throw context.BadPayload($"ans payload has {payload.Length - end} bytes after its lane streams.", end);

        // Every offset is now at most payload.Length, so the narrowing casts are exact.
        return new AnsPayloadLayout(scaleAxis, scaleType, prediction, bound, lanes, groups, (int)scaleCount, (int)tablesOffset, (int)laneHeadersOffset, (int)streamsOffset, (int)words);
    }

    /// <summary>Scale <paramref name="index"/> as binary32: a stored f32 as is, a stored f16 widened exactly.</summary>
    public float Scale(ReadOnlySpan<byte> payload, int index) => ScaleType == AnsScaleType.Float16
        ? (float)BinaryPrimitives.ReadHalfLittleEndian(payload[(ScalesOffset + 2 * index)..])
        : BinaryPrimitives.ReadSingleLittleEndian(payload[(ScalesOffset + 4 * index)..]);

    /// <summary>Every scale finite and ≥ 0 (§9.1); <paramref name="scales"/> is the payload's scale region.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void ValidateScales(in SectionContext context, ReadOnlySpan<byte> scales, AnsScaleType type)
    {
        if (type == AnsScaleType.Float16)
        {
            for (int k = 0; k < scales.Length / 2; k++)
            {
                ushort bits = BinaryPrimitives.ReadUInt16LittleEndian(scales[(2 * k)..]);
                if (!AnsFormat.IsValidScale(bits))
                    throw context.BadPayload($"ans f16 scale {k} is {BitConverter.UInt16BitsToHalf(bits)} (0x{bits:X4}); scales are finite and non-negative.", AnsFormat.HeaderSize + 2L * k);
            }

            return;
        }

        for (int k = 0; k < scales.Length / 4; k++)
        {
            float scale = BinaryPrimitives.ReadSingleLittleEndian(scales[(4 * k)..]);
            if (!AnsFormat.IsValidScale(scale))
                throw context.BadPayload($"ans scale {k} is {scale}; scales are finite and non-negative.", AnsFormat.HeaderSize + 4L * k);
        }
    }

    /// <summary>Lane <paramref name="lane"/>'s initial state.</summary>
    public uint LaneState(ReadOnlySpan<byte> payload, int lane) =>
        BinaryPrimitives.ReadUInt32LittleEndian(payload[(LaneHeadersOffset + AnsFormat.LaneHeaderSize * lane)..]);

    /// <summary>Lane <paramref name="lane"/>'s word count.</summary>
    public int LaneWordCount(ReadOnlySpan<byte> payload, int lane) =>
        (int)BinaryPrimitives.ReadUInt32LittleEndian(payload[(LaneHeadersOffset + AnsFormat.LaneHeaderSize * lane + 4)..]);

    /// <summary>Frequency of symbol <paramref name="symbol"/> in table <paramref name="group"/>.</summary>
    public int Frequency(ReadOnlySpan<byte> payload, int group, int symbol) =>
        BinaryPrimitives.ReadUInt16LittleEndian(payload[(TablesOffset + 2 * (group * Alphabet + symbol))..]);

    private static void RequireLength(in SectionContext context, ReadOnlySpan<byte> payload, long end, string region)
    {
        if (payload.Length < end)
            throw context.BadPayload($"ans payload of {payload.Length} bytes ends inside its {region}, which end at {end}.", payload.Length);
    }
}
