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
         from content in Gen.Elements("random", "smooth", "zero", "constant", "negative", "sparse", "tiny", "wide")
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
    public Property Every_element_decodes_within_half_a_step_of_its_scale() =>
        Prop.ForAll(Cases(), c =>
        {
            float[] values = c.Values();
            SectionContext context = c.Context;
            byte[] payload = AnsCodec.Instance.Encode(context, values, c.Level);
            int bound = AnsCodec.Bound(c.Level, c.Layer, c.Layers, c.Kind);
            Assert.Equal(bound, payload[3]);
            Assert.Equal(c.Kind == SectionKind.Keys ? 1 : 2, payload[1]);

            var decoded = new float[values.Length];
            AnsCodec.Instance.Decode(context, payload, decoded);
            int kvDim = c.KvHeads * c.HeadDim;
            for (int i = 0; i < values.Length; i++)
            {
                int t = i / kvDim, ch = i % kvDim;
                int scaleIndex = c.Kind == SectionKind.Keys ? ch : t * c.KvHeads + ch / c.HeadDim;
                float scale = BitConverter.ToSingle(payload, 8 + 4 * scaleIndex);

                // Half a step, plus the binary32 roundings of absmax / B, x / scale and q × scale (a few ulps of B·scale),
                // plus the whole value where absmax / B underflowed to a zero scale.
                double slack = scale * (bound + 1) * Math.Pow(2, -20) + (scale == 0 ? Math.Abs(values[i]) : 0);
                Assert.True(Math.Abs((double)decoded[i] - values[i]) <= scale / 2.0 + slack, $"{c}: element {i}: {values[i]} decoded as {decoded[i]} with scale {scale}");
            }
        });

    [Property(MaxTest = 60)]
    public Property The_encoder_keeps_the_shortest_candidate_preferring_prediction_0_then_the_smaller_G() =>
        Prop.ForAll(Cases(), c =>
        {
            float[] values = c.Values();
            byte[] chosen = AnsCodec.Instance.Encode(c.Context, values, c.Level);
            byte[]? best = null;
            foreach (int prediction in new[] { 0, 1 })
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

    [Property(MaxTest = 100)]
    public Property A_valid_payload_is_never_longer_than_MaxPayloadLength() =>
        Prop.ForAll(Cases(), c =>
        {
            float[] values = c.Values();
            long max = AnsCodec.Instance.MaxPayloadLength(c.Context);
            Assert.Equal(max, AnsCodec.Instance.MaxPayloadLength(c.Context with { Kind = SectionKind.Keys, Layer = 0 }));
            Assert.True(AnsCodec.Instance.Encode(c.Context, values, c.Level).Length <= max);

            // The largest layout a decoder accepts: a table per channel of the widest alphabet, 1024 lanes, random data.
            int kvDim = c.KvHeads * c.HeadDim;
            byte[] extreme = AnsEncoder.Encode(c.Context, AnsTestData.Random(values.Length, c.Seed), AnsCodec.MaxLevel, new AnsEncoderChoices(1, kvDim, 1024));
            Assert.True(extreme.Length <= max, $"{extreme.Length} > {max}");
        });
}
