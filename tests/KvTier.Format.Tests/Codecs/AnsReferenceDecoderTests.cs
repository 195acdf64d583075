using KvTier.Format.Codecs;
using KvTier.Format.Codecs.Ans;
using Xunit;

namespace KvTier.Format.Tests.Codecs;

/// <summary>Every decode path of <see cref="AnsDecoder"/> agrees bit for bit with <see cref="AnsReferenceDecoder"/>.</summary>
public sealed class AnsReferenceDecoderTests
{
    private static readonly AnsDecodePath[] Paths = [AnsDecodePath.Auto, AnsDecodePath.Scalar, AnsDecodePath.Vector, AnsDecodePath.Search];

    public static TheoryData<int, int, int, string> Sections() => new()
    {
        { 1, 1, 1, "random" },        // one element
        { 1, 2, 8, "smooth" },        // one token
        { 17, 1, 1, "random" },       // kv_dim 1
        { 17, 3, 5, "smooth" },       // odd head_dim: scalar paths only
        { 17, 2, 8, "random" },
        { 17, 2, 8, "zero" },
        { 17, 2, 8, "constant" },
        { 64, 4, 32, "smooth" },      // n = 8192: N = 2
        { 9000, 1, 1, "smooth" },     // kv_dim 1, N = 2
        { 256, 8, 16, "smooth" },     // n = 32768: N = 8
        { 300, 8, 64, "smooth" },     // n = 153600: N = 32
        { 300, 8, 64, "random" },
        { 130, 4, 256, "zero" },      // N = 32, every table a single symbol of frequency 4096
        { 130, 4, 256, "negative" },
    };

    [Theory]
    [MemberData(nameof(Sections))]
    public void Every_path_matches_the_reference_for_every_level_kind_scale_prediction_and_table_choice(int tokens, int kvHeads, int headDim, string content)
    {
        int kvDim = kvHeads * headDim;
        float[] values = Content(content, tokens, kvDim, seed: tokens * 31 + kvDim);
        bool large = tokens * kvDim > 20000;
        foreach ((SectionKind kind, AnsScaleAxis axis, AnsScaleType? type) in ScaleChoices(large))
        {
            foreach (int level in large ? new[] { 2, 4 } : new[] { 1, 2, 3, 4 })
            {
                SectionContext context = AnsTestData.Context(tokens, kvHeads, headDim, kind, layer: level % 3);
                for (int prediction = 0; prediction <= AnsTestData.MaxPrediction(context, level); prediction++)
                {
                    foreach (int groups in new[] { 1, kvHeads }.Distinct())
                    {
                        byte[] payload = AnsEncoder.Encode(context, values, level, new AnsEncoderChoices(prediction, groups, ScaleAxis: axis, ScaleType: type));
                        Assert.Equal((byte)axis, payload[1]);
                        AssertAllPathsMatchReference(context, payload);
                    }
                }
            }
        }
    }

    /// <summary>Keys per channel and values on both per-token axes, each with the encoder's scale type (f16 here) and with f32.</summary>
    private static (SectionKind, AnsScaleAxis, AnsScaleType?)[] ScaleChoices(bool large) => large
        ? [(SectionKind.Keys, AnsScaleAxis.PerChannel, null), (SectionKind.Values, AnsScaleAxis.PerTokenHead, AnsScaleType.Float32), (SectionKind.Values, AnsScaleAxis.PerToken, null)]
        :
        [
            (SectionKind.Keys, AnsScaleAxis.PerChannel, null),
            (SectionKind.Keys, AnsScaleAxis.PerChannel, AnsScaleType.Float32),
            (SectionKind.Values, AnsScaleAxis.PerTokenHead, null),
            (SectionKind.Values, AnsScaleAxis.PerTokenHead, AnsScaleType.Float32),
            (SectionKind.Values, AnsScaleAxis.PerToken, null),
            (SectionKind.Values, AnsScaleAxis.PerToken, AnsScaleType.Float32),
        ];

    public static TheoryData<int, int, int, int, int> OddChoices() => new()
    {
        // tokens, kv_heads, head_dim, G, N
        { 40, 2, 8, 16, 3 },       // G = kv_dim (a table per channel), N not a power of two
        { 40, 2, 8, 2, 24 },       // N a multiple of 8 that is not a power of two: the vector path wraps lanes mid-row
        { 33, 4, 16, 8, 40 },
        { 5, 2, 8, 4, 1024 },      // more lanes than elements: empty lanes
        { 3, 1, 7, 7, 1024 },
        { 700, 1, 24, 3, 16 },
        { 129, 2, 64, 128, 8 },    // 128 tables of 4096 slots on 16512 elements
    };

    [Theory]
    [MemberData(nameof(OddChoices))]
    public void Every_path_matches_the_reference_for_choices_our_encoder_never_makes(int tokens, int kvHeads, int headDim, int groups, int lanes)
    {
        float[] values = AnsTestData.Smooth(tokens, kvHeads * headDim, seed: lanes);
        for (int prediction = 0; prediction <= 1; prediction++)
        {
            // f32 scales with prediction 0, f16 with prediction 1.
            AnsScaleType type = prediction == 0 ? AnsScaleType.Float32 : AnsScaleType.Float16;
            foreach (AnsScaleAxis axis in new[] { AnsScaleAxis.PerChannel, AnsScaleAxis.PerTokenHead, AnsScaleAxis.PerToken })
            {
                SectionContext context = AnsTestData.Context(tokens, kvHeads, headDim, axis == AnsScaleAxis.PerChannel ? SectionKind.Keys : SectionKind.Values);
                byte[] payload = AnsEncoder.Encode(context, values, 3, new AnsEncoderChoices(prediction, groups, lanes, axis, type));
                AssertAllPathsMatchReference(context, payload);
            }
        }
    }

    [Fact]
    public void The_encoders_own_choice_decodes_like_the_reference()
    {
        SectionContext context = AnsTestData.Context(200, 4, 32, SectionKind.Values);
        float[] values = AnsTestData.Smooth(200, 128, seed: 5);
        AssertAllPathsMatchReference(context, AnsCodec.Instance.Encode(context, values, AnsCodec.DefaultLevel));
    }

    internal static void AssertAllPathsMatchReference(SectionContext context, byte[] payload)
    {
        int[] expected = AnsTestData.Bits(AnsReferenceDecoder.Decode(context.Layout, context.TokenCount, payload));
        foreach (AnsDecodePath path in Paths)
        {
            var decoded = new float[context.ElementCount];
            AnsDecoder.Decode(context, payload, decoded, path);
            Assert.True(expected.AsSpan().SequenceEqual(AnsTestData.Bits(decoded)), $"path {path} differs from the reference");
        }
    }

    internal static float[] Content(string content, int tokens, int kvDim, int seed) => content switch
    {
        "random" => AnsTestData.Random(tokens * kvDim, seed),
        "smooth" => AnsTestData.Smooth(tokens, kvDim, seed),
        "zero" => new float[tokens * kvDim],
        "constant" => AnsTestData.Constant(tokens * kvDim, 0.75f),
        "negative" => AnsTestData.Constant(tokens * kvDim, -3e-3f),
        _ => throw new ArgumentOutOfRangeException(nameof(content)),
    };
}
