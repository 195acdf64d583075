using System.Buffers.Binary;
using KvTier.Format.Codecs;
using KvTier.Format.Codecs.Ans;
using Xunit;

namespace KvTier.Format.Tests.Codecs;

/// <summary>
/// Every malformed ans payload is <see cref="ChunkRecordErrorKind.BadPayload"/> at the offset of what is wrong, and
/// never any other exception (format-spec/kvtier-format.md §5, §9.1–§9.3).
/// </summary>
public sealed class AnsMalformedPayloadTests
{
    private const long PayloadOffset = 1_000;

    // A valid base: 3 tokens × (2 heads × 4 channels), scale_axis 1, f32 scales, prediction 0, B = 3 (A = 7), G = 2, N = 2.
    // Offsets: scales 12 (8 × 4 bytes), tables 44 (2 × 7 × 2 bytes), lane headers 72 (2 × 8 bytes), streams 88.
    private static readonly SectionContext Base = new(AnsTestData.Layout(2, 4), 3, 0, SectionKind.Keys, "base", PayloadOffset);
    private const int Scales = 12;
    private const int Tables = 44;
    private const int LaneHeaders = 72;
    private const int Streams = 88;

    // One token of the same width, for the hand-built single-lane payloads below.
    private static readonly SectionContext OneToken = Base with { TokenCount = 1 };

    private static AnsPayloadBuilder BaseBuilder() => new()
    {
        Bound = 3,
        KvDim = 8,
        Lanes = 2,
        Scales = [0.5f, 1f, 1.5f, 2f, 0f, 0.25f, 3f, 8f],
        Tables = [[1000, 900, 800, 700, 400, 200, 96], [2000, 100, 100, 1000, 800, 48, 48]],
        Symbols = [0, 1, 2, 3, 4, 5, 6, 0, 6, 5, 4, 3, 2, 1, 0, 0, 1, 1, 2, 2, 6, 6, 5, 5],
    };

    [Fact]
    public void The_base_payload_is_valid()
    {
        byte[] payload = BaseBuilder().Build();
        Assert.Equal(Streams, payload.Length - 2 * WordCount(payload));
        AssertAllPathsMatchReference(Base, payload);
    }

    public static TheoryData<string, int> HeaderRewrites() => new()
    {
        // field = value, expected offset
        { "version=0", 0 },
        { "version=2", 0 },
        { "axis=0", 1 },
        { "axis=4", 1 },
        { "axis=255", 1 },
        { "type=0", 2 },
        { "type=3", 2 },
        { "type=255", 2 },
        { "prediction=2", 3 },
        { "prediction=255", 3 },
        { "bound=0", 4 },
        { "bound=128", 4 },
        { "reserved5=1", 5 },
        { "reserved5=128", 5 },
        { "lanes=0", 6 },
        { "lanes=1025", 6 },
        { "groups=0", 8 },
        { "groups=3", 8 },      // does not divide kv_dim = 8
        { "groups=16", 8 },     // more than kv_dim
        { "reserved10=1", 10 },
        { "reserved10=256", 11 },
        { "reserved10=65535", 10 },
    };

    [Theory]
    [MemberData(nameof(HeaderRewrites))]
    public void A_header_field_out_of_range_is_rejected_at_its_offset(string rewrite, int offset)
    {
        byte[] payload = BaseBuilder().Build();
        string[] parts = rewrite.Split('=');
        int value = int.Parse(parts[1]);
        switch (parts[0])
        {
            case "version": payload[0] = (byte)value; break;
            case "axis": payload[1] = (byte)value; break;
            case "type": payload[2] = (byte)value; break;
            case "prediction": payload[3] = (byte)value; break;
            case "bound": payload[4] = (byte)value; break;
            case "reserved5": payload[5] = (byte)value; break;
            case "lanes": BinaryPrimitives.WriteUInt16LittleEndian(payload.AsSpan(6), (ushort)value); break;
            case "groups": BinaryPrimitives.WriteUInt16LittleEndian(payload.AsSpan(8), (ushort)value); break;
            default: BinaryPrimitives.WriteUInt16LittleEndian(payload.AsSpan(10), (ushort)value); break;
        }

        AssertBadPayload(payload, offset);
    }

    [Theory]
    [InlineData(0)]
    [InlineData(1)]
    [InlineData(11)]
    public void A_payload_shorter_than_its_header_is_rejected_at_its_end(int length) =>
        AssertBadPayload(BaseBuilder().Build()[..length], length);

    [Theory]
    [InlineData(2)] // per token and head: S = 3·2 = 6 scales, 24 bytes instead of 32
    [InlineData(3)] // per token: S = 3 scales, 12 bytes instead of 32
    public void A_scale_axis_that_disagrees_with_the_payload_length_is_rejected(int axis)
    {
        byte[] payload = BaseBuilder().Build();
        payload[1] = (byte)axis;
        AssertBadPayload(payload, offset: null);
    }

    [Fact]
    public void A_scale_type_that_disagrees_with_the_payload_length_is_rejected()
    {
        byte[] payload = BaseBuilder().Build();
        payload[2] = 2; // f16: the scales would take 16 bytes, not 32
        AssertBadPayload(payload, offset: null);
    }

    [Theory]
    [InlineData(float.NaN)]
    [InlineData(float.PositiveInfinity)]
    [InlineData(float.NegativeInfinity)]
    [InlineData(-1f)]
    [InlineData(-1e-45f)]
    public void A_scale_that_is_not_finite_and_non_negative_is_rejected_at_its_offset(float scale)
    {
        AnsPayloadBuilder builder = BaseBuilder();
        builder.Scales[5] = scale;
        AssertBadPayload(builder.Build(), Scales + 4 * 5);
    }

    [Theory]
    [InlineData((ushort)0x7C00)] // +infinity
    [InlineData((ushort)0xFC00)] // −infinity
    [InlineData((ushort)0x7E00)] // quiet NaN
    [InlineData((ushort)0x7C01)] // signalling NaN
    [InlineData((ushort)0xFE00)] // negative NaN
    [InlineData((ushort)0xBC00)] // −1
    [InlineData((ushort)0x8001)] // the negative subnormal nearest −0
    public void An_f16_scale_that_is_not_finite_and_non_negative_is_rejected_at_its_offset(ushort bits)
    {
        AnsPayloadBuilder builder = BaseBuilder();
        builder.ScaleType = 2;
        builder.Scales[5] = (float)BitConverter.UInt16BitsToHalf(bits);
        byte[] payload = builder.Build();
        BinaryPrimitives.WriteUInt16LittleEndian(payload.AsSpan(Scales + 2 * 5), bits); // exactly these bits, NaN payloads included
        AssertBadPayload(payload, Scales + 2 * 5);
    }

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    public void A_negative_zero_scale_is_accepted_because_it_compares_equal_to_zero(int scaleType)
    {
        AnsPayloadBuilder builder = BaseBuilder();
        builder.ScaleType = scaleType;
        builder.Scales[4] = -0f;
        byte[] payload = builder.Build();
        if (scaleType == 2)
            Assert.Equal(0x8000, BinaryPrimitives.ReadUInt16LittleEndian(payload.AsSpan(Scales + 2 * 4)));
        else
            Assert.Equal(0x80000000u, BinaryPrimitives.ReadUInt32LittleEndian(payload.AsSpan(Scales + 4 * 4)));
        AssertAllPathsMatchReference(Base, payload);
    }

    [Fact]
    public void F16_scales_at_the_edges_of_binary16_decode_like_the_reference()
    {
        // The largest finite value, the smallest normal and subnormal, +0: every one a valid scale, widened exactly.
        AnsPayloadBuilder builder = BaseBuilder();
        builder.ScaleType = 2;
        builder.Scales = [65504f, (float)BitConverter.UInt16BitsToHalf(0x0400), (float)BitConverter.UInt16BitsToHalf(0x0001), 0f, 1f, 0.333251953125f, 2048f, 1e-3f];
        AssertAllPathsMatchReference(Base, builder.Build());
    }

    [Theory]
    [InlineData(0, 4095)]
    [InlineData(1, 4097)]
    [InlineData(1, 4096 + 65535)]
    public void A_table_not_summing_to_4096_is_rejected_at_the_table(int table, int sum)
    {
        byte[] payload = BaseBuilder().Build();
        int at = Tables + 14 * table;
        int others = 0;
        for (int s = 1; s < 7; s++)
            others += BinaryPrimitives.ReadUInt16LittleEndian(payload.AsSpan(at + 2 * s));
        BinaryPrimitives.WriteUInt16LittleEndian(payload.AsSpan(at), (ushort)Math.Min(65535, sum - others));
        AssertBadPayload(payload, at);
    }

    [Theory]
    [InlineData(0u)]
    [InlineData(65535u)]
    public void A_lane_state_below_2_to_the_16_is_rejected_at_its_lane_header(uint state)
    {
        byte[] payload = BaseBuilder().Build();
        BinaryPrimitives.WriteUInt32LittleEndian(payload.AsSpan(LaneHeaders + 8), state);
        AssertBadPayload(payload, LaneHeaders + 8);
    }

    [Theory]
    [InlineData(Tables - 1)]
    [InlineData(LaneHeaders - 2)]
    [InlineData(Streams - 1)]
    public void A_payload_ending_inside_a_region_is_rejected_at_its_end(int length) =>
        AssertBadPayload(BaseBuilder().Build()[..length], length);

    [Fact]
    public void A_payload_ending_inside_the_lane_streams_is_rejected_at_its_end()
    {
        byte[] payload = BaseBuilder().Build();
        AssertBadPayload(payload[..^2], payload.Length - 2);
    }

    [Fact]
    public void Trailing_bytes_after_the_lane_streams_are_rejected_where_they_start()
    {
        byte[] payload = BaseBuilder().Build();
        AssertBadPayload([.. payload, 0, 0], payload.Length);
    }

    [Fact]
    public void A_lane_that_needs_a_word_past_its_word_count_is_rejected()
    {
        // One lane, a table that makes every symbol cost 12 bits: the stream has words, and we drop the last one.
        var builder = new AnsPayloadBuilder { Bound = 1, KvDim = 8, Scales = new float[8], Tables = [[4094, 1, 1]], Symbols = [1, 2, 1, 2, 1, 2, 1, 2] };
        (uint State, ushort[] Words)[] lanes = builder.EncodeLanes();
        Assert.True(lanes[0].Words.Length >= 2);
        AssertAllPathsMatchReference(OneToken, builder.Build(lanes));
        lanes[0].Words = lanes[0].Words[..^1];
        AssertBadPayload(builder.Build(lanes), AnsFormat.HeaderSize + 32 + 6 + 8 + 2 * lanes[0].Words.Length, OneToken);
    }

    [Theory]
    [InlineData(8, 0)]    // the fused AVX2 path: one lane group
    [InlineData(16, 13)]  // two lane groups
    [InlineData(32, 31)]  // four lane groups
    [InlineData(3, 2)]
    public void A_lane_that_runs_out_of_words_is_rejected_on_every_path(int lanes, int shortLane)
    {
        // 4 tokens × 32 channels; symbols 1 and 2 cost 12 bits each, so every lane refills often.
        int kvDim = 32;
        int[] symbols = Enumerable.Range(0, 4 * kvDim).Select(i => i % 3).ToArray();
        var builder = new AnsPayloadBuilder { Bound = 1, KvDim = kvDim, Lanes = lanes, Scales = Enumerable.Repeat(0.5f, kvDim).ToArray(), Tables = [[4094, 1, 1]], Symbols = symbols };
        var context = new SectionContext(AnsTestData.Layout(4, 8), 4, 0, SectionKind.Keys, "short", PayloadOffset);
        (uint State, ushort[] Words)[] encoded = builder.EncodeLanes();
        AssertAllPathsMatchReference(context, builder.Build(encoded));
        Assert.NotEmpty(encoded[shortLane].Words);
        encoded[shortLane].Words = encoded[shortLane].Words[..^1];
        AssertBadPayload(builder.Build(encoded), offset: null, context);
    }

    [Fact]
    public void A_lane_with_unread_words_is_rejected()
    {
        var builder = new AnsPayloadBuilder { Bound = 1, KvDim = 8, Scales = new float[8], Tables = [[2048, 1024, 1024]], Symbols = [0, 0, 0, 0, 0, 0, 0, 0] };
        (uint State, ushort[] Words)[] lanes = builder.EncodeLanes();
        AssertAllPathsMatchReference(OneToken, builder.Build(lanes));
        int unread = AnsFormat.HeaderSize + 32 + 6 + 8 + 2 * lanes[0].Words.Length;
        lanes[0].Words = [.. lanes[0].Words, 7];
        AssertBadPayload(builder.Build(lanes), unread, OneToken);
    }

    [Fact]
    public void A_lane_that_does_not_end_in_state_2_to_the_16_is_rejected_at_its_lane_header()
    {
        // Encoding from 2^16 + 1 instead of 2^16: every symbol decodes as written, and the lane ends in 2^16 + 1.
        var builder = new AnsPayloadBuilder { Bound = 1, KvDim = 8, Scales = new float[8], Tables = [[2048, 1024, 1024]], Symbols = [0, 1, 2, 0, 1, 2, 0, 1], InitialState = 65537 };
        AssertBadPayload(builder.Build(), AnsFormat.HeaderSize + 32 + 6, OneToken);
    }

    [Theory]
    [InlineData(1, 8, 8)]   // N = 8 and kv_dim 8: the fused AVX2 path
    [InlineData(1, 8, 1)]
    [InlineData(3, 5, 3)]
    public void A_predicted_value_outside_the_bound_is_rejected(int bound, int kvDim, int lanes)
    {
        // Every channel steps up by +bound on every token: the third token is at 2·bound > B (A = 4B + 1 allows v up to 2B).
        int tokens = 4;
        int[] symbols = Enumerable.Repeat(2 * bound, tokens * kvDim).ToArray();
        var table = new ushort[4 * bound + 1];
        table[2 * bound] = 4000;
        table[0] = 96;
        var builder = new AnsPayloadBuilder { Prediction = 1, Bound = bound, KvDim = kvDim, Lanes = lanes, Scales = Enumerable.Repeat(1f, kvDim).ToArray(), Tables = [table], Symbols = symbols };
        var context = new SectionContext(AnsTestData.Layout(1, kvDim), tokens, 0, SectionKind.Keys, "q", PayloadOffset);
        AssertBadPayload(builder.Build(), offset: null, context);
    }

    [Fact]
    public void Mutated_payloads_decode_exactly_as_the_reference_or_fail_with_BadPayload()
    {
        var random = new Random(20240917);
        var bases = new List<(SectionContext Context, byte[] Payload)>
        {
            (Base, BaseBuilder().Build()),
        };
        foreach ((int tokens, int heads, int headDim, int? lanes, int? groups, int? prediction, SectionKind kind, AnsScaleAxis? axis, AnsScaleType? type) in
            new (int, int, int, int?, int?, int?, SectionKind, AnsScaleAxis?, AnsScaleType?)[]
        {
            (17, 2, 8, null, null, null, SectionKind.Keys, null, null),
            (16, 2, 32, 32, 2, 1, SectionKind.Values, null, null),                          // fused path, four lane groups, two tables, prediction, per-token f16
            (16, 2, 16, 16, 1, 1, SectionKind.Keys, null, AnsScaleType.Float32),            // fused path, two lane groups
            (12, 1, 16, 8, 16, 0, SectionKind.Values, AnsScaleAxis.PerTokenHead, AnsScaleType.Float32), // fused path, a table per channel
            (12, 2, 8, 8, 2, 1, SectionKind.Values, AnsScaleAxis.PerTokenHead, AnsScaleType.Float16),
            (12, 2, 8, 8, 1, 0, SectionKind.Values, AnsScaleAxis.PerToken, AnsScaleType.Float32),
            (9, 3, 5, 3, 3, 1, SectionKind.Keys, AnsScaleAxis.PerToken, null),              // scalar paths
            (9, 3, 5, 3, 3, 0, SectionKind.Values, AnsScaleAxis.PerTokenHead, AnsScaleType.Float16),
            (4, 2, 8, 1024, 2, 0, SectionKind.Keys, null, null),                            // empty lanes
        })
        {
            var context = new SectionContext(AnsTestData.Layout(heads, headDim), tokens, 1, kind, "mutation", PayloadOffset);
            float[] values = AnsTestData.Smooth(tokens, heads * headDim, seed: tokens);
            bases.Add((context, AnsEncoder.Encode(context, values, 1 + tokens % 4, new AnsEncoderChoices(prediction, groups, lanes, axis, type))));
        }

        int accepted = 0, rejected = 0;
        for (int round = 0; round < 4000; round++)
        {
            (SectionContext context, byte[] original) = bases[round % bases.Count];
            byte[] payload = Mutate(original, random);
            float[]? expected = null;
            try
            {
                expected = AnsReferenceDecoder.Decode(context.Layout, context.TokenCount, payload);
            }
            catch (InvalidAnsPayloadException)
            {
            }

            foreach (AnsDecodePath path in new[] { AnsDecodePath.Auto, AnsDecodePath.Scalar, AnsDecodePath.Search })
            {
                var decoded = new float[context.ElementCount];
                try
                {
                    AnsDecoder.Decode(context, payload, decoded, path);
                }
                catch (ChunkRecordException e)
                {
                    Assert.Equal(ChunkRecordErrorKind.BadPayload, e.Kind);
                    Assert.InRange(e.Offset, PayloadOffset, PayloadOffset + payload.Length);
                    Assert.True(expected is null, $"round {round}, path {path}: the reference decodes what the decoder rejects: {e.Message}");
                    rejected++;
                    continue;
                }

                Assert.True(expected is not null, $"round {round}, path {path}: the decoder accepts what the reference rejects");
                Assert.Equal(AnsTestData.Bits(expected!), AnsTestData.Bits(decoded));
                accepted++;
            }
        }

        Assert.True(accepted > 100 && rejected > 1000, $"accepted {accepted}, rejected {rejected}");
    }

    private static byte[] Mutate(byte[] original, Random random)
    {
        byte[] payload = (byte[])original.Clone();
        switch (random.Next(8))
        {
            case 0: // flip one to three bits anywhere
            case 1:
                for (int k = random.Next(1, 4); k > 0; k--)
                {
                    int at = random.Next(payload.Length);
                    payload[at] ^= (byte)(1 << random.Next(8));
                }

                return payload;
            case 2: // flip a bit in the lane streams only (what survives a header check most often)
            {
                int streams = StreamsOffset(original);
                if (streams < payload.Length)
                    payload[random.Next(streams, payload.Length)] ^= (byte)(1 << random.Next(8));
                return payload;
            }

            case 3: // truncate
                return payload[..random.Next(payload.Length)];
            case 4: // extend
                return [.. payload, .. Enumerable.Range(0, random.Next(1, 9)).Select(_ => (byte)random.Next(256))];
            case 5: // rewrite a header field with an edge value: the bytes at 0–5, or the u16 at 6, 8 or 10
            {
                int field = random.Next(9);
                int[] edges = [0, 1, 2, 3, 4, 7, 8, 16, 31, 63, 64, 255, 256, 1023, 1024, 1025, 65535];
                int value = edges[random.Next(edges.Length)];
                if (field < 6)
                    payload[field] = (byte)value;
                else
                    BinaryPrimitives.WriteUInt16LittleEndian(payload.AsSpan(6 + 2 * (field - 6)), (ushort)value);
                return payload;
            }

            case 6: // rewrite a lane state or word count
            {
                (int laneHeaders, int lanes) = ReadLaneHeaders(original);
                if (lanes == 0)
                    return payload;
                int at = laneHeaders + 8 * random.Next(lanes) + 4 * random.Next(2);
                uint old = BinaryPrimitives.ReadUInt32LittleEndian(payload.AsSpan(at));
                uint[] choices = [old + 1, old - 1, 0, 65535, 65536, uint.MaxValue, old ^ (1u << random.Next(32))];
                BinaryPrimitives.WriteUInt32LittleEndian(payload.AsSpan(at), choices[random.Next(choices.Length)]);
                return payload;
            }

            default: // move one unit of frequency between two symbols of a table (keeps the sum)
            {
                (int tables, int alphabet, int groups) = TableLayout(original);
                int g = random.Next(groups);
                int from = tables + 2 * (g * alphabet + random.Next(alphabet));
                int to = tables + 2 * (g * alphabet + random.Next(alphabet));
                ushort a = BinaryPrimitives.ReadUInt16LittleEndian(payload.AsSpan(from));
                if (a == 0)
                    return payload;
                BinaryPrimitives.WriteUInt16LittleEndian(payload.AsSpan(from), (ushort)(a - 1));
                BinaryPrimitives.WriteUInt16LittleEndian(payload.AsSpan(to), (ushort)(BinaryPrimitives.ReadUInt16LittleEndian(payload.AsSpan(to)) + 1));
                return payload;
            }
        }
    }

    // Offsets of a valid payload's regions, read from its own fields.
    private static (int Tables, int Alphabet, int Groups) TableLayout(byte[] payload)
    {
        int scaleCount = ScaleCount(payload);
        int bound = payload[4];
        int alphabet = payload[3] == 0 ? 2 * bound + 1 : 4 * bound + 1;
        return (12 + ScaleSize(payload) * scaleCount, alphabet, BinaryPrimitives.ReadUInt16LittleEndian(payload.AsSpan(8)));
    }

    private static int ScaleSize(byte[] payload) => payload[2] == 2 ? 2 : 4;

    private static (int LaneHeaders, int Lanes) ReadLaneHeaders(byte[] payload)
    {
        (int tables, int alphabet, int groups) = TableLayout(payload);
        return (tables + 2 * alphabet * groups, BinaryPrimitives.ReadUInt16LittleEndian(payload.AsSpan(6)));
    }

    private static int StreamsOffset(byte[] payload)
    {
        (int laneHeaders, int lanes) = ReadLaneHeaders(payload);
        return laneHeaders + 8 * lanes;
    }

    private static int WordCount(byte[] payload)
    {
        (int laneHeaders, int lanes) = ReadLaneHeaders(payload);
        int words = 0;
        for (int j = 0; j < lanes; j++)
            words += BinaryPrimitives.ReadInt32LittleEndian(payload.AsSpan(laneHeaders + 8 * j + 4));
        return words;
    }

    // The scale count is not in the header; recover it from the lengths: S = (streams − 12 − tables − lanes) / size.
    private static int ScaleCount(byte[] payload)
    {
        int bound = payload[4];
        int alphabet = payload[3] == 0 ? 2 * bound + 1 : 4 * bound + 1;
        int groups = BinaryPrimitives.ReadUInt16LittleEndian(payload.AsSpan(8));
        int lanes = BinaryPrimitives.ReadUInt16LittleEndian(payload.AsSpan(6));
        for (int s = 1; ; s++)
        {
            int laneHeaders = 12 + ScaleSize(payload) * s + 2 * alphabet * groups;
            int words = 0;
            for (int j = 0; j < lanes; j++)
                words += BinaryPrimitives.ReadInt32LittleEndian(payload.AsSpan(laneHeaders + 8 * j + 4));
            if (laneHeaders + 8 * lanes + 2 * words == payload.Length)
                return s;
        }
    }

    private static void AssertAllPathsMatchReference(SectionContext context, byte[] payload) =>
        AnsReferenceDecoderTests.AssertAllPathsMatchReference(context, payload);

    private static void AssertBadPayload(byte[] payload, int? offset, SectionContext? section = null)
    {
        SectionContext context = section ?? Base;
        foreach (AnsDecodePath path in new[] { AnsDecodePath.Auto, AnsDecodePath.Scalar, AnsDecodePath.Vector, AnsDecodePath.Search })
        {
            var e = Assert.Throws<ChunkRecordException>(() => AnsDecoder.Decode(context, payload, new float[context.ElementCount], path));
            Assert.Equal(ChunkRecordErrorKind.BadPayload, e.Kind);
            if (offset is { } expected)
                Assert.Equal(PayloadOffset + expected, e.Offset);
            else
                Assert.InRange(e.Offset, PayloadOffset, PayloadOffset + payload.Length);
        }

        Assert.Throws<InvalidAnsPayloadException>(() => AnsReferenceDecoder.Decode(context.Layout, context.TokenCount, payload));
    }
}
