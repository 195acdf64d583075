using FsCheck;
using FsCheck.Fluent;
using FsCheck.Xunit;
using KvTier.Format.Codecs;
using KvTier.Format.Codecs.Ans;
using Xunit;

namespace KvTier.Format.Tests.Codecs;

/// <summary>Encoding is deterministic and decoding returns every element within half its quantization step.</summary>
public sealed class AnsRoundTripTests
{
    /// <summary>A section: shape, kind, layer, level and content (drawn from a seed).</summary>
    public sealed record Case(int Tokens, int KvHeads, int HeadDim, SectionKind Kind, int Layer, int Layers, int Level, string Content, int Seed)
    {
        public SectionContext Context => AnsTestData.Context(Tokens, KvHeads, HeadDim, Kind, Layer, Layers);

        public float[] Values()
        {
            int kvDim = KvHeads * HeadDim;
            float[] values = Content switch
            {
                "sparse" => AnsTestData.Random(Tokens * kvDim, Seed).Select((x, i) => i % 5 == 0 ? x * 1000 : 0f).ToArray(),
                "tiny" => AnsTestData.Random(Tokens * kvDim, Seed, range: 1e-30f),
                "wide" => AnsTestData.Random(Tokens * kvDim, Seed).Select((x, i) => x * MathF.Pow(10, i % 9 - 4)).ToArray(),
                "huge" => AnsTestData.Random(Tokens * kvDim, Seed, range: 3e6f), // scales beyond binary16, mostly

                _ => AnsReferenceDecoderTests.Content(Content, Tokens, kvDim, Seed),
            };
            return values;
        }

        public override string ToString() => $"{Tokens}×({KvHeads}×{HeadDim}) {Kind} layer {Layer}/{Layers} level {Level} {Content} seed {Seed}";
    }

    private static Arbitrary<Case> Cases() =>
        (from tokens in Gen.Choose(1, 40)
         from kvHeads in Gen.Choose(1, 4)
         from headDim in Gen.Choose(1, 24)
         from kind in Gen.Elements(SectionKind.Keys, SectionKind.Values)
         from layers in Gen.Choose(1, 7)
         from layer in Gen.Choose(0, layers - 1)
         from level in Gen.Choose(AnsCodec.MinLevel, AnsCodec.MaxLevel)
         from content in Gen.Elements("random", "smooth", "zero", "constant", "negative", "sparse", "tiny", "wide", "huge")
         from seed in Gen.Choose(0, 1_000_000)
         select new Case(tokens, kvHeads, headDim, kind, layer, layers, level, content, seed)).ToArbitrary();

    [Property(MaxTest = 150)]
    public Property Encoding_and_decoding_are_deterministic() =>
        Prop.ForAll(Cases(), c =>
        {
            float[] values = c.Values();
            byte[] first = AnsCodec.Instance.Encode(c.Context, values, c.Level);
            byte[] second = AnsCodec.Instance.Encode(c.Context, (float[])values.Clone(), c.Level);
            Assert.Equal(first, second);

            var a = new float[values.Length];
            var b = new float[values.Length];
            AnsCodec.Instance.Decode(c.Context, first, a);
            AnsCodec.Instance.Decode(c.Context, first, b);
            Assert.Equal(AnsTestData.Bits(a), AnsTestData.Bits(b));
        });

    [Property(MaxTest = 150)]
    public Property Every_element_decodes_within_half_a_step_of_its_stored_scale() =>
        Prop.ForAll(Cases(), c =>
        {
            float[] values = c.Values();
            SectionContext context = c.Context;
            byte[] payload = AnsCodec.Instance.Encode(context, values, c.Level);
            int bound = AnsCodec.Bound(c.Level, c.Layer, c.Layers, c.Kind);
            Assert.Equal(bound, payload[4]);
            Assert.Equal((byte)AnsCodec.ScaleAxis(c.Level, c.Kind), payload[1]);

            var decoded = new float[values.Length];
            AnsCodec.Instance.Decode(context, payload, decoded);
            for (int i = 0; i < values.Length; i++)
            {
                float scale = StoredScale(payload, c, i);

                // Half a step of the stored scale (an f16 scale is rounded up, so nothing clips beyond it), plus the binary32
                // roundings of absmax / B, x / scale and q × scale (a few ulps of B·scale), plus the whole value where the scale
                // is zero (absmax / B underflowed).
                double slack = scale * (bound + 1) * Math.Pow(2, -20) + (scale == 0 ? Math.Abs(values[i]) : 0);
                Assert.True(Math.Abs((double)decoded[i] - values[i]) <= scale / 2.0 + slack, $"{c}: element {i}: {values[i]} decoded as {decoded[i]} with scale {scale}");
            }
        });

    [Property(MaxTest = 150)]
    public Property Scales_are_f16_exactly_when_every_scale_rounded_up_to_binary16_is_finite() =>
        Prop.ForAll(Cases(), c =>
        {
            float[] values = c.Values();
            byte[] payload = AnsCodec.Instance.Encode(c.Context, values, c.Level);
            int bound = AnsCodec.Bound(c.Level, c.Layer, c.Layers, c.Kind);

            // absmax / B per scale group, computed here from §9.5's text; binary16 holds s rounded up iff s ≤ 65504.
            var absMax = new Dictionary<int, float>();
            for (int i = 0; i < values.Length; i++)
            {
                int k = ScaleIndex(payload[1], c, i);
                absMax[k] = MathF.Max(absMax.GetValueOrDefault(k), MathF.Abs(values[i]));
            }

            bool fits = absMax.Values.All(m => m / bound <= 65504f);
            Assert.Equal(fits ? 2 : 1, payload[2]);
            foreach ((int k, float m) in absMax)
            {
                float s = m / bound;
                float stored = StoredScale(payload, k);
                Assert.True(stored >= s, $"{c}: scale {k} stored as {stored}, below absmax / B = {s}");
                if (payload[2] == 2)
                {
                    // The least binary16 ≥ s: the next binary16 below it is below s.
                    ushort bits = BitConverter.HalfToUInt16Bits((Half)stored);
                    Assert.True(bits == 0 || (float)BitConverter.UInt16BitsToHalf((ushort)(bits - 1)) < s, $"{c}: scale {k} = {stored} is not the least binary16 ≥ {s}");
                }
                else
                {
                    Assert.Equal(s, stored);
                }
            }
        });

    [Property(MaxTest = 60)]
    public Property The_encoder_keeps_the_shortest_candidate_preferring_prediction_0_then_the_smaller_G() =>
        Prop.ForAll(Cases(), c =>
        {
            float[] values = c.Values();
            byte[] chosen = AnsCodec.Instance.Encode(c.Context, values, c.Level);
            byte[]? best = null;
            for (int prediction = 0; prediction <= AnsTestData.MaxPrediction(c.Context, c.Level); prediction++)
            {
                foreach (int groups in new[] { 1, c.KvHeads }.Distinct())
                {
                    byte[] candidate = AnsEncoder.Encode(c.Context, values, c.Level, new AnsEncoderChoices(prediction, groups));
                    if (best is null || candidate.Length < best.Length)
                        best = candidate;
                }
            }

            Assert.Equal(best, chosen);
        });

    // Scale k of element i, by the payload's scale_axis (§9.4).
    private static int ScaleIndex(byte axis, Case c, int i)
    {
        int kvDim = c.KvHeads * c.HeadDim;
        int t = i / kvDim, ch = i % kvDim;
        return axis switch
        {
            1 => ch,
            2 => t * c.KvHeads + ch / c.HeadDim,
            _ => t,
        };
    }

    private static float StoredScale(byte[] payload, Case c, int i) => StoredScale(payload, ScaleIndex(payload[1], c, i));

    // Scale k as stored at offset 12, widened exactly from f16 where scale_type is 2.
    private static float StoredScale(byte[] payload, int k) => payload[2] == 2
        ? (float)BitConverter.ToHalf(payload, 12 + 2 * k)
        : BitConverter.ToSingle(payload, 12 + 4 * k);

    [Property(MaxTest = 100)]
    public Property A_valid_payload_is_never_longer_than_MaxPayloadLength() =>
        Prop.ForAll(Cases(), c =>
        {
            float[] values = c.Values();
            long max = AnsCodec.Instance.MaxPayloadLength(c.Context);
            Assert.Equal(max, AnsCodec.Instance.MaxPayloadLength(c.Context with { Kind = SectionKind.Keys, Layer = 0 }));
            Assert.True(AnsCodec.Instance.Encode(c.Context, values, c.Level).Length <= max);

            // The largest layout a decoder accepts: the most f32 scales, a table per channel of the widest alphabet, 1024 lanes,
            // random data.
            int kvDim = c.KvHeads * c.HeadDim;
            AnsScaleAxis mostScales = kvDim >= c.Tokens * c.KvHeads ? AnsScaleAxis.PerChannel : AnsScaleAxis.PerTokenHead;
            byte[] extreme = AnsEncoder.Encode(c.Context, AnsTestData.Random(values.Length, c.Seed), AnsCodec.MaxLevel,
                new AnsEncoderChoices(AnsTestData.MaxPrediction(c.Context, AnsCodec.MaxLevel), kvDim, 1024, mostScales, AnsScaleType.Float32));
            Assert.True(extreme.Length <= max, $"{extreme.Length} > {max}");
        });

    [Property(MaxTest = 100)]
    public Property A_valid_payload_is_never_shorter_than_MinPayloadLength() =>
        Prop.ForAll(Cases(), c =>
        {
            long min = AnsCodec.Instance.MinPayloadLength(c.Context);
            Assert.True(AnsCodec.Instance.Encode(c.Context, c.Values(), c.Level).Length >= min);

            // The smallest layout: the fewest scales as f16, one table, one lane, an all-zero section (no words).
            int kvDim = c.KvHeads * c.HeadDim;
            AnsScaleAxis fewestScales = kvDim <= c.Tokens ? AnsScaleAxis.PerChannel : AnsScaleAxis.PerToken;
            byte[] smallest = AnsEncoder.Encode(c.Context, new float[c.Tokens * kvDim], AnsCodec.MinLevel,
                new AnsEncoderChoices(0, 1, 1, fewestScales, AnsScaleType.Float16));
            Assert.True(smallest.Length >= min, $"{smallest.Length} < {min}");
        });
}
