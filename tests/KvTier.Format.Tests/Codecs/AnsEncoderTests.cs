using System.Buffers.Binary;
using KvTier.Format.Codecs;
using KvTier.Format.Codecs.Ans;
using Xunit;

namespace KvTier.Format.Tests.Codecs;

/// <summary>KvTier's encoder makes the choices of format-spec/kvtier-format.md §9.5.</summary>
public sealed class AnsEncoderTests
{
    [Theory]
    [InlineData(1, SectionKind.Keys, 5, 5)]
    [InlineData(1, SectionKind.Values, 2, 2)]
    [InlineData(2, SectionKind.Keys, 7, 7)]
    [InlineData(2, SectionKind.Values, 3, 3)]
    [InlineData(3, SectionKind.Keys, 31, 31)]
    [InlineData(3, SectionKind.Values, 5, 5)]
    [InlineData(4, SectionKind.Keys, 127, 127)]
    [InlineData(4, SectionKind.Values, 63, 63)]
    public void The_bound_follows_the_level_table_in_the_first_third_of_the_layers_and_after(int level, SectionKind kind, int first, int later)
    {
        {
            // ⌈layers/3⌉ first layers: 1 of 1, 1 of 3, 2 of 4, 2 of 6, 3 of 7, 11 of 32.
            foreach ((int layers, int firstLayers) in new[] { (1, 1), (3, 1), (4, 2), (6, 2), (7, 3), (32, 11) })
            {
                for (int layer = 0; layer < layers; layer++)
                    Assert.Equal(layer < firstLayers ? first : later, AnsCodec.Bound(level, layer, layers, kind));
            }
        }
    }

    [Fact]
    public void The_level_table_has_one_well_formed_row_per_level()
    {
        ReadOnlySpan<AnsLevels.Row> rows = AnsLevels.All;
        Assert.Equal(AnsCodec.MaxLevel - AnsCodec.MinLevel + 1, rows.Length);
        for (int k = 0; k < rows.Length; k++)
        {
            AnsLevels.Row row = rows[k];
            Assert.Equal(AnsCodec.MinLevel + k, row.Level);
            Assert.Equal(row, AnsLevels.Of(row.Level));
            foreach (int bound in new[] { row.KeyBoundFirst, row.KeyBoundLater, row.ValueBoundFirst, row.ValueBoundLater })
                Assert.InRange(bound, 1, AnsFormat.MaxBound);
            Assert.True(Enum.IsDefined(row.ValueScaleAxis), $"level {row.Level}: a defined scale axis for values");
            Assert.True(row.KeyBoundFirst >= row.ValueBoundFirst && row.KeyBoundLater >= row.ValueBoundLater, $"level {row.Level}: keys at least as fine as values");
        }
    }

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(3)]
    [InlineData(4)]
    public void Keys_are_scaled_per_channel_and_values_on_the_levels_axis(int level)
    {
        Assert.Equal(AnsScaleAxis.PerChannel, AnsCodec.ScaleAxis(level, SectionKind.Keys));
        Assert.Equal(AnsLevels.Of(level).ValueScaleAxis, AnsCodec.ScaleAxis(level, SectionKind.Values));
        SectionContext context = AnsTestData.Context(4, 2, 8, SectionKind.Values);
        byte[] payload = AnsCodec.Instance.Encode(context, AnsTestData.Smooth(4, 16, seed: 1), level);
        Assert.Equal((byte)AnsLevels.Of(level).ValueScaleAxis, payload[1]);
    }

    public static TheoryData<uint, ushort, bool> HalfRoundUps() => new()
    {
        // binary32 bits, least binary16 ≥ it (bits), finite
        { 0x00000000, 0x0000, true },   // +0
        { 0x80000000, 0x0000, true },   // −0: the same scale as +0
        { 0x00000001, 0x0001, true },   // the smallest binary32 subnormal → the smallest binary16 subnormal, 2^−24
        { 0x33000000, 0x0001, true },   // 2^−25: half of 2^−24, nearest-even would give 0
        { 0x33800000, 0x0001, true },   // 2^−24 exactly
        { 0x33800001, 0x0002, true },   // just above 2^−24
        { 0x387FC000, 0x03FF, true },   // the largest binary16 subnormal
        { 0x387FC001, 0x0400, true },   // just above it: the smallest normal
        { 0x3E124925, 0x3093, true },   // f32(1/7) → 1171/8192 (nearest would be 1170/8192, below)
        { 0x3F800000, 0x3C00, true },   // 1
        { 0x3F800001, 0x3C01, true },   // just above 1: nearest would be 1, below
        { 0x3F800FFF, 0x3C01, true },   // just below the midpoint of 1 and 1 + 2^−10: nearest would be 1
        { 0x477FE000, 0x7BFF, true },   // 65504, the largest finite binary16
        { 0x477FE001, 0x7C00, false },  // just above 65504: +∞
        { 0x477FF000, 0x7C00, false },  // 65520: nearest-even already gives +∞
        { 0x7F7FFFFF, 0x7C00, false },  // the largest binary32
    };

    [Theory]
    [MemberData(nameof(HalfRoundUps))]
    public void Scales_round_up_to_the_least_binary16_not_below_them(uint single, ushort half, bool finite)
    {
        Assert.Equal(finite, AnsEncoder.TryRoundUpToHalf(BitConverter.UInt32BitsToSingle(single), out ushort bits));
        Assert.Equal(half, bits);
    }

    [Fact]
    public void Rounding_up_to_binary16_gives_the_least_binary16_not_below_the_scale_for_random_scales()
    {
        var random = new Random(7);
        for (int k = 0; k < 100_000; k++)
        {
            // Every binary32 exponent a scale ≤ 65504 can have, uniform fractions.
            float scale = BitConverter.UInt32BitsToSingle((uint)random.Next(0, 0x477FE001));
            Assert.True(AnsEncoder.TryRoundUpToHalf(scale, out ushort bits), $"{scale}");
            Assert.True((float)BitConverter.UInt16BitsToHalf(bits) >= scale, $"{scale}: {bits:X4} is below it");
            Assert.True(bits == 0 || (float)BitConverter.UInt16BitsToHalf((ushort)(bits - 1)) < scale, $"{scale}: {bits - 1:X4} is not below it");
        }
    }

    [Fact]
    public void Fixed_f16_scales_that_do_not_fit_are_rejected()
    {
        SectionContext context = AnsTestData.Context(2, 1, 4);
        float[] values = AnsTestData.Random(8, 1, range: 1e8f); // absmax / B far above 65504
        Assert.Throws<ArgumentException>(() => AnsEncoder.Encode(context, values, 2, new AnsEncoderChoices(ScaleType: AnsScaleType.Float16)));
        Assert.Equal((byte)AnsScaleType.Float32, AnsEncoder.Encode(context, values, 2)[2]);
        Assert.Throws<ArgumentOutOfRangeException>(() => AnsEncoder.Encode(context, values, 2, new AnsEncoderChoices(ScaleAxis: (AnsScaleAxis)4)));
        Assert.Throws<ArgumentOutOfRangeException>(() => AnsEncoder.Encode(context, values, 2, new AnsEncoderChoices(ScaleType: (AnsScaleType)0)));
    }

    [Theory]
    [InlineData(0, 0, 3)]
    [InlineData(5, 0, 3)]
    [InlineData(2, 3, 3)]
    [InlineData(2, -1, 3)]
    [InlineData(2, 0, 0)]
    public void Bound_rejects_levels_and_layers_out_of_range(int level, int layer, int layers) =>
        Assert.Throws<ArgumentOutOfRangeException>(() => AnsCodec.Bound(level, layer, layers, SectionKind.Keys));

    [Theory]
    [InlineData(1, 1)]
    [InlineData(4095, 1)]
    [InlineData(8191, 1)]
    [InlineData(8192, 2)]
    [InlineData(16383, 2)]
    [InlineData(16384, 4)]
    [InlineData(32768, 8)]
    [InlineData(65536, 16)]
    [InlineData(131071, 16)]
    [InlineData(131072, 32)]
    [InlineData(1 << 27, 32)]
    public void The_lane_count_is_clamp_of_2_to_the_floor_of_log2_of_n_over_4096(long elements, int lanes) =>
        Assert.Equal(lanes, AnsFormat.EncoderLanes(elements));

    [Theory]
    [InlineData(8191, 1)]
    [InlineData(8192, 2)]
    [InlineData(131072, 32)]
    public void Payloads_carry_the_lane_count_for_their_size(int tokens, int lanes)
    {
        SectionContext context = AnsTestData.Context(tokens, 1, 1);
        byte[] payload = AnsCodec.Instance.Encode(context, AnsTestData.Smooth(tokens, 1, seed: 3), AnsCodec.DefaultLevel);
        Assert.Equal(lanes, BinaryPrimitives.ReadUInt16LittleEndian(payload.AsSpan(6)));
    }

    public static TheoryData<int[], ushort[]> Normalizations() => new()
    {
        // Exact: floor(k·4096/n) already sums to 4096.
        { [1, 2, 0, 5], [512, 1024, 0, 2560] },
        // Short by one: the most frequent symbol (lowest on ties) takes it.
        { [1, 1, 1], [1366, 1365, 1365] },
        { [3, 5, 5, 0], [945, 1576, 1575, 0] },   // n = 13: 945.2, 1575.4, 1575.4
        // Over by one: rare symbols get 1, the most frequent gives the excess back.
        { [10000, 1, 1], [4094, 1, 1] },
        { [0, 7, 8], [0, 1911, 2185] },
        // A tie in the rounded frequency (2000, 2000) but not in the count: "most frequent" is read as the larger count,
        // so symbol 1 takes the missing unit (the lowest symbol among equal frequencies would be symbol 0).
        { [20000, 20001, 959], [2000, 2001, 95] },
    };

    [Theory]
    [MemberData(nameof(Normalizations))]
    public void Frequencies_are_normalized_as_the_spec_says(int[] counts, ushort[] expected)
    {
        var frequencies = new ushort[counts.Length];
        AnsEncoder.Normalize(counts, frequencies);
        Assert.Equal(expected, frequencies);
    }

    [Fact]
    public void An_excess_beyond_what_the_most_frequent_symbol_can_give_is_taken_from_the_next_symbols()
    {
        // 195 symbols of exactly 21/4096 each and 58 of one occurrence in n = 58·4096: every rare symbol is raised to 1,
        // 4095 + 58 = 4153, and the most frequent symbol (21) cannot give 57. §9.5 does not say what happens then.
        var counts = new int[253];
        for (int s = 0; s < 195; s++)
            counts[s] = 21 * 58;
        for (int s = 195; s < 253; s++)
            counts[s] = 1;
        Assert.Equal(58 * 4096, counts.Sum());

        var frequencies = new ushort[253];
        AnsEncoder.Normalize(counts, frequencies);
        Assert.Equal(4096, frequencies.Sum(f => f));
        Assert.All(frequencies, f => Assert.True(f >= 1));
        // Symbols 0, 1 and 2 (largest counts, lowest first) give 20, 20 and 17.
        Assert.Equal([1, 1, 4], frequencies[..3].Select(f => (int)f));
        Assert.All(frequencies[3..195], f => Assert.Equal(21, f));
    }

    [Fact]
    public void Non_finite_input_is_rejected_before_encoding()
    {
        SectionContext context = AnsTestData.Context(2, 1, 4);
        foreach (float bad in new[] { float.NaN, float.PositiveInfinity, float.NegativeInfinity })
        {
            float[] values = AnsTestData.Random(8, 1);
            values[5] = bad;
            Assert.Throws<ArgumentException>(() => AnsCodec.Instance.Encode(context, values, 2));
        }
    }

    [Fact]
    public void Bad_arguments_are_rejected()
    {
        SectionContext context = AnsTestData.Context(2, 1, 4);
        Assert.Throws<ArgumentException>(() => AnsCodec.Instance.Encode(context, new float[7], 2));
        Assert.Throws<ArgumentOutOfRangeException>(() => AnsCodec.Instance.Encode(context, new float[8], 0));
        Assert.Throws<ArgumentOutOfRangeException>(() => AnsCodec.Instance.Encode(context, new float[8], 5));
        Assert.Throws<ArgumentException>(() => AnsCodec.Instance.Decode(context, AnsCodec.Instance.Encode(context, new float[8], 2), new float[9]));
    }

    [Fact]
    public void The_codec_is_what_ChunkCodecs_hands_out_for_ans()
    {
        Assert.Same(AnsCodec.Instance, ChunkCodecs.Lossy(CodecId.Ans));
        Assert.Equal(CodecId.Ans, AnsCodec.Instance.Id);
        Assert.Equal((AnsCodec.MinLevel, AnsCodec.MaxLevel, AnsCodec.DefaultLevel), (ChunkCodecs.Ans.MinLevel, ChunkCodecs.Ans.MaxLevel, ChunkCodecs.Ans.DefaultLevel));
    }
}
