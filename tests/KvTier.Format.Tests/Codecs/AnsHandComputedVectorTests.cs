using KvTier.Format.Codecs;
using KvTier.Format.Codecs.Ans;
using Xunit;

namespace KvTier.Format.Tests.Codecs;

/// <summary>
/// Tiny payloads worked out by hand from the arithmetic of format-spec/kvtier-format.md §9 (a check of the spec text
/// itself as much as of the decoder). One channel group of three channels, one token, B = 1, one table, one lane;
/// per-channel scales 0.5, 2, 3 (as f32 and as f16), or one per-token scale 1.5.
/// </summary>
public sealed class AnsHandComputedVectorTests
{
    private static readonly SectionContext Section = AnsTestData.Context(tokens: 1, kvHeads: 1, headDim: 3);

    /// <summary>
    /// Table [2048, 1024, 1024] (cum [0, 2048, 3072]); symbols 2, 0, 1. Encoding in reverse from x = 65536:
    /// s=1: x = (65536 div 1024)·4096 + 0 + 2048 = 264192; s=0: (264192 div 2048)·4096 + 0 + 0 = 528384;
    /// s=2: (528384 div 1024)·4096 + 0 + 3072 = 2116608 = 0x00204C00, no word emitted (x never reached freq·2^20).
    /// Decoding: slot 3072 → s=2, x = 1024·516 + 0 = 528384; slot 0 → s=0, x = 2048·129 = 264192; slot 2048 → s=1,
    /// x = 1024·64 + 0 = 65536 = 2^16. Zigzag 2, 0, 1 → 1, 0, −1; times the scales → 0.5, 0, −3.
    /// </summary>
    private static readonly byte[] NoRefill =
    [
        0x01, 0x01, 0x01, 0x00, 0x01, 0x00, 0x01, 0x00, 0x01, 0x00, 0x00, 0x00, // version 1, per channel, f32, no prediction, B 1, 0, N 1, G 1, 0
        0x00, 0x00, 0x00, 0x3F, 0x00, 0x00, 0x00, 0x40, 0x00, 0x00, 0x40, 0x40, // scales 0.5, 2, 3
        0x00, 0x08, 0x00, 0x04, 0x00, 0x04, // frequencies 2048, 1024, 1024
        0x00, 0x4C, 0x20, 0x00, 0x00, 0x00, 0x00, 0x00, // lane 0: state 2116608, 0 words
    ];

    /// <summary>
    /// Table [4094, 1, 1] (cum [0, 4094, 4095]); symbols 0, 2, 1. Encoding in reverse from x = 65536:
    /// s=1: 65536 &lt; 1·2^20, x = 65536·4096 + 0 + 4094 = 268439550; s=2: x ≥ 2^20, so emit x mod 2^16 = 4094 and
    /// x = 4096, then x = 4096·4096 + 0 + 4095 = 16781311; s=0: 16781311 &lt; 4094·2^20, x = 4099·4096 + 5 + 0 =
    /// 16789509 = 0x01003005. Stream [4094]. Decoding: slot 5 → s=0, x = 4094·4099 + 5 = 16781311; slot 4095 → s=2,
    /// x = 1·4096 + 0 = 4096 &lt; 2^16, refill: x = 4096·65536 + 4094 = 268439550; slot 4094 → s=1, x = 65536 + 0 = 2^16,
    /// one word read of one. Zigzag 0, 2, 1 → 0, 1, −1; times the scales → 0, 2, −3.
    /// </summary>
    private static readonly byte[] OneRefill =
    [
        0x01, 0x01, 0x01, 0x00, 0x01, 0x00, 0x01, 0x00, 0x01, 0x00, 0x00, 0x00,
        0x00, 0x00, 0x00, 0x3F, 0x00, 0x00, 0x00, 0x40, 0x00, 0x00, 0x40, 0x40,
        0xFE, 0x0F, 0x01, 0x00, 0x01, 0x00, // frequencies 4094, 1, 1
        0x05, 0x30, 0x00, 0x01, 0x01, 0x00, 0x00, 0x00, // lane 0: state 16789509, 1 word
        0xFE, 0x0F, // word 4094
    ];

    /// <summary>NoRefill with f16 scales: binary16 0.5 = 0x3800, 2 = 0x4000, 3 = 0x4200. Same values.</summary>
    private static readonly byte[] NoRefillHalfScales =
    [
        0x01, 0x01, 0x02, 0x00, 0x01, 0x00, 0x01, 0x00, 0x01, 0x00, 0x00, 0x00, // per channel, f16
        0x00, 0x38, 0x00, 0x40, 0x00, 0x42, // scales 0.5, 2, 3
        0x00, 0x08, 0x00, 0x04, 0x00, 0x04,
        0x00, 0x4C, 0x20, 0x00, 0x00, 0x00, 0x00, 0x00,
    ];

    /// <summary>
    /// NoRefill's symbols on 1 token × (3 heads × 1 channel) with scale_axis 3: S = token_count = 1 scale for the whole
    /// row, f16 1.5 = 0x3E00. Zigzag 1, 0, −1 times 1.5 → 1.5, 0, −1.5 (axis 2 would need 3 scales here).
    /// </summary>
    private static readonly byte[] PerTokenScale =
    [
        0x01, 0x03, 0x02, 0x00, 0x01, 0x00, 0x01, 0x00, 0x01, 0x00, 0x00, 0x00, // per token, f16
        0x00, 0x3E, // scale 1.5
        0x00, 0x08, 0x00, 0x04, 0x00, 0x04,
        0x00, 0x4C, 0x20, 0x00, 0x00, 0x00, 0x00, 0x00,
    ];

    public static TheoryData<string> Paths() => new() { nameof(AnsDecodePath.Auto), nameof(AnsDecodePath.Scalar), nameof(AnsDecodePath.Vector), nameof(AnsDecodePath.Search) };

    [Theory]
    [MemberData(nameof(Paths))]
    public void A_payload_without_refills_decodes_as_computed_by_hand(string path)
    {
        var values = new float[3];
        AnsDecoder.Decode(Section, NoRefill, values, Enum.Parse<AnsDecodePath>(path));
        Assert.Equal([0.5f, 0f, -3f], values);
    }

    [Theory]
    [MemberData(nameof(Paths))]
    public void A_payload_with_one_refill_decodes_as_computed_by_hand(string path)
    {
        var values = new float[3];
        AnsDecoder.Decode(Section, OneRefill, values, Enum.Parse<AnsDecodePath>(path));
        Assert.Equal([0f, 2f, -3f], values);
    }

    [Theory]
    [MemberData(nameof(Paths))]
    public void F16_scales_decode_as_their_exact_binary32_values(string path)
    {
        var values = new float[3];
        AnsDecoder.Decode(Section, NoRefillHalfScales, values, Enum.Parse<AnsDecodePath>(path));
        Assert.Equal([0.5f, 0f, -3f], values);
    }

    [Theory]
    [MemberData(nameof(Paths))]
    public void A_per_token_scale_applies_to_the_whole_row(string path)
    {
        SectionContext context = AnsTestData.Context(tokens: 1, kvHeads: 3, headDim: 1, SectionKind.Values);
        var values = new float[3];
        AnsDecoder.Decode(context, PerTokenScale, values, Enum.Parse<AnsDecodePath>(path));
        Assert.Equal([1.5f, 0f, -1.5f], values);
    }

    [Fact]
    public void The_spec_encoder_text_reproduces_the_hand_computed_payloads()
    {
        var builder = new AnsPayloadBuilder { Bound = 1, KvDim = 3, Scales = [0.5f, 2f, 3f], Tables = [[2048, 1024, 1024]], Symbols = [2, 0, 1] };
        Assert.Equal(NoRefill, builder.Build());
        builder.ScaleType = 2;
        Assert.Equal(NoRefillHalfScales, builder.Build());
        builder.ScaleAxis = 3;
        builder.Scales = [1.5f];
        Assert.Equal(PerTokenScale, builder.Build());
        builder = new AnsPayloadBuilder { Bound = 1, KvDim = 3, Scales = [0.5f, 2f, 3f], Tables = [[4094, 1, 1]], Symbols = [0, 2, 1] };
        Assert.Equal(OneRefill, builder.Build());
    }

    /// <summary>
    /// Keys, 2 tokens × 2 channels, level 1 in layer 0 of 3 (B = 7): [[1, −2], [0.5, 2]]. absmax / B: f32(1/7) =
    /// 0.142857149 and f32(2/7). Both fit binary16, so the scales are f16, rounded up: 1/7 = 1.142857·2^−3, whose 10-bit
    /// fraction 146.29/1024 rounds to nearest as 146 (below 1/7) and up as 147, so s16 = 1171/8192 = 0x3093 (exponent
    /// field 12); likewise 2/7 → 1171/4096 = 0x3493. q with the stored scales: 1 / (1171/8192) = 6.9957 → 7;
    /// −2 / (1171/4096) → −7; 0.5 / (1171/8192) = 3.4979 → 3; 2 / (1171/4096) → 7. Prediction 0: symbols 14, 13, 6, 14,
    /// counts 1 (6), 1 (13), 2 (14) of 4 → frequencies 1024, 1024, 2048 at cum 0, 1024, 2048. Prediction 1 (symbols 14,
    /// 13, 7, 28 over 29 symbols) needs 28 more table bytes, so prediction 0 wins. One lane; in reverse from 65536: s=14 →
    /// 32·4096 + 2048 = 133120; s=6 → 130·4096 = 532480; s=13 → 520·4096 + 1024 = 2130944; s=14 → 1040·4096 + 1024 + 2048
    /// = 4262912 = 0x00410C00; no word. Decoded: 7·1171/8192, −7·1171/4096, 3·1171/8192, 7·1171/4096, each exact.
    /// </summary>
    [Fact]
    public void The_encoder_writes_the_payload_computed_by_hand()
    {
        SectionContext context = AnsTestData.Context(tokens: 2, kvHeads: 1, headDim: 2, SectionKind.Keys, layer: 0, layers: 3);
        byte[] expected =
        [
            0x01, 0x01, 0x02, 0x00, 0x07, 0x00, 0x01, 0x00, 0x01, 0x00, 0x00, 0x00, // per channel, f16, no prediction, B 7, N 1, G 1
            0x93, 0x30, 0x93, 0x34,
            0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x04, // symbols 0–6
            0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x04, 0x00, 0x08, // 7–14
            0x00, 0x0C, 0x41, 0x00, 0x00, 0x00, 0x00, 0x00,
        ];
        byte[] payload = AnsCodec.Instance.Encode(context, [1f, -2f, 0.5f, 2f], 2);
        Assert.Equal(expected, payload);

        var values = new float[4];
        AnsCodec.Instance.Decode(context, payload, values);
        Assert.Equal([8197f / 8192, -8197f / 4096, 3513f / 8192, 8197f / 4096], values);
    }

    /// <summary>
    /// The same keys with values 2^20 times larger: absmax / B = 2^20 / 7 > 65504, so no binary16 holds the scales and the
    /// whole section keeps f32 scales f32(2^20/7) = 0x48124925 and f32(2^21/7) = 0x48924925 (the f32 scales of 1/7 and
    /// 2/7 with the exponent raised by 20). Same q as with f32(1/7): 7, −7, 3, 7.
    /// </summary>
    [Fact]
    public void The_encoder_keeps_f32_scales_when_one_does_not_fit_binary16()
    {
        SectionContext context = AnsTestData.Context(tokens: 2, kvHeads: 1, headDim: 2, SectionKind.Keys, layer: 0, layers: 3);
        const float Big = 1 << 20;
        byte[] payload = AnsCodec.Instance.Encode(context, [Big, -2 * Big, 0.5f * Big, 2 * Big], 2);
        Assert.Equal([0x01, 0x01, 0x01, 0x00, 0x07, 0x00, 0x01, 0x00, 0x01, 0x00, 0x00, 0x00, 0x25, 0x49, 0x12, 0x48, 0x25, 0x49, 0x92, 0x48], payload[..20]);

        var values = new float[4];
        AnsCodec.Instance.Decode(context, payload, values);
        Assert.Equal([7 * (Big / 7), -7 * (2 * Big / 7), 3 * (Big / 7), 7 * (2 * Big / 7)], values);
    }

    [Theory]
    [InlineData(2, 1, 2, 1)]    // one head of two channels, a scale per token and head
    [InlineData(2, 1, 2, 2)]
    [InlineData(3, 2, 1, 1)]    // two heads of one channel, a scale per token across both heads
    [InlineData(3, 2, 1, 2)]
    public void Prediction_adds_each_row_to_the_previous_one_and_per_token_scales_apply_per_group(int axis, int kvHeads, int headDim, int scaleType)
    {
        // Two tokens of two channels, B = 1, prediction 1 (A = 5: values −2..2).
        // Symbols 2, 1 | 1, 2 → v = 1, −1 | −1, 1 → q = 1, −1 | 0, 0 → × 0.25 | × 4.
        var builder = new AnsPayloadBuilder
        {
            ScaleAxis = axis,
            ScaleType = scaleType,
            Prediction = 1,
            Bound = 1,
            KvDim = 2,
            Scales = [0.25f, 4f],
            Tables = [[1024, 1024, 1024, 512, 512]],
            Symbols = [2, 1, 1, 2],
        };
        byte[] payload = builder.Build();
        SectionContext context = AnsTestData.Context(tokens: 2, kvHeads: kvHeads, headDim: headDim, SectionKind.Values);
        var values = new float[4];
        AnsCodec.Instance.Decode(context, payload, values);
        Assert.Equal([0.25f, -0.25f, 0f, 0f], values);
        AnsReferenceDecoderTests.AssertAllPathsMatchReference(context, payload);
    }
}
