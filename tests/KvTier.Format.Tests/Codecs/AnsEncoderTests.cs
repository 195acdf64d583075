using System.Buffers.Binary;
using KvTier.Format.Codecs;
using KvTier.Format.Codecs.Ans;
using Xunit;

namespace KvTier.Format.Tests.Codecs;

/// <summary>KvTier's encoder makes the choices of format-spec/kvtier-format.md §9.5.</summary>
public sealed class AnsEncoderTests
{
    [Theory]
    [InlineData(1, 7, 3)]
    [InlineData(2, 15, 7)]
    [InlineData(3, 31, 15)]
    [InlineData(4, 63, 63)]
    public void The_bound_follows_the_level_table_with_the_first_third_of_the_layers_finer(int level, int first, int later)
    {
        foreach (SectionKind kind in new[] { SectionKind.Keys, SectionKind.Values })
        {
            // ⌈layers/3⌉ first layers: 1 of 1, 1 of 3, 2 of 4, 2 of 6, 3 of 7, 11 of 32.
            foreach ((int layers, int firstLayers) in new[] { (1, 1), (3, 1), (4, 2), (6, 2), (7, 3), (32, 11) })
            {
                for (int layer = 0; layer < layers; layer++)
                    Assert.Equal(layer < firstLayers ? first : later, AnsCodec.Bound(level, layer, layers, kind));
            }
        }
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
        Assert.Equal(lanes, BinaryPrimitives.ReadUInt16LittleEndian(payload.AsSpan(4)));
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
