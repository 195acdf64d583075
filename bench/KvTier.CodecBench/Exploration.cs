using System.Globalization;
using System.Text.Json;
using KvTier.Reference;

namespace KvTier.CodecBench;

/// <summary>
/// <c>--explore</c>: what shrinks real KV, measured without a bitstream. Quantizes the corpus's exact KV under
/// different choices and reports estimated size (empirical entropy of the quantized symbols per table, plus scales
/// at 16 bits and tables) against mean KL. Used to choose the <c>ans</c> codec's scale axes, bounds per layer and
/// prediction; the estimates are what an ideal entropy coder would reach, so compare them with each other, not with records.
/// </summary>
internal static class Exploration
{
    private enum Axis
    {
        PerChannel,
        PerTokenHead,
        PerToken,
    }

    public static void Run(KvCorpus corpus, string outputDirectory)
    {
        LlamaModel model = corpus.Model;
        int layers = model.Layout.Layers;
        var results = new List<object>();
        bool quick = Environment.GetEnvironmentVariable("KVTIER_EXPLORE_QUICK") == "1";
        if (quick)
            goto NearLossless;

        Console.WriteLine("1. Sensitivity: one (layer, K/V) quantized at B = 3 (7 levels), the rest exact; K per channel, V per token");
        for (int layer = 0; layer < layers; layer++)
        {
            foreach (bool keys in new[] { true, false })
            {
                var plan = new Plan(layers);
                plan.Bound(layer, keys) = 3;
                (double bits, double kl) = Evaluate(corpus, plan);
                Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"   layer {layer} {(keys ? "K" : "V")}: KL {kl:E2}"));
                results.Add(new { experiment = "sensitivity", layer, kind = keys ? "K" : "V", bound = 3, kl });
            }
        }

        Console.WriteLine("2. Scale axes at B = 7 everywhere (bits include scales at 16 bits)");
        foreach ((Axis k, Axis v) in new[] { (Axis.PerChannel, Axis.PerToken), (Axis.PerChannel, Axis.PerTokenHead), (Axis.PerToken, Axis.PerToken), (Axis.PerChannel, Axis.PerChannel) })
        {
            var plan = new Plan(layers, 7) { KeyAxis = k, ValueAxis = v };
            (double bits, double kl) = Evaluate(corpus, plan);
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"   K {k,-12} V {v,-12}: {bits:F3} bits/elem, KL {kl:E2}"));
            results.Add(new { experiment = "axes", keyAxis = k.ToString(), valueAxis = v.ToString(), bound = 7, bits, kl });
        }

        Console.WriteLine("3. Prediction from the previous token (per-channel tables), K per channel, V per token, B = 7");
        foreach (bool predict in new[] { false, true })
        {
            var plan = new Plan(layers, 7) { Predict = predict };
            (double bits, double kl) = Evaluate(corpus, plan);
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"   prediction {(predict ? "previous token" : "none"),-15}: {bits:F3} bits/elem"));
            results.Add(new { experiment = "prediction", predict, bits, kl });
        }

        Console.WriteLine("4. Uniform bounds K = V = B");
        foreach (int b in new[] { 2, 3, 4, 5, 7, 10, 15, 31 })
        {
            var plan = new Plan(layers, b);
            (double bits, double kl) = Evaluate(corpus, plan);
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"   B = {b,2}: {bits:F3} bits/elem, KL {kl:E2}"));
            results.Add(new { experiment = "uniform", bound = b, bits, kl });
        }

        Console.WriteLine("5. Keys finer than values, early layers finer (K early/late, V early/late)");
        foreach ((int ke, int kl2, int ve, int vl) in new[] { (7, 5, 5, 3), (7, 7, 5, 3), (10, 7, 7, 3), (10, 7, 5, 5), (15, 7, 7, 5), (15, 10, 10, 7), (31, 15, 15, 10) })
        {
            var plan = new Plan(layers);
            int early = (layers + 2) / 3;
            for (int l = 0; l < layers; l++)
            {
                plan.Bound(l, true) = l < early ? ke : kl2;
                plan.Bound(l, false) = l < early ? ve : vl;
            }

            (double bits, double kl) = Evaluate(corpus, plan);
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"   K {ke}/{kl2} V {ve}/{vl}: {bits:F3} bits/elem, KL {kl:E2}"));
            results.Add(new { experiment = "tiered", keyEarly = ke, keyLate = kl2, valueEarly = ve, valueLate = vl, bits, kl });
        }

        Console.WriteLine("6. K per channel x V per channel, uniform bounds per kind (bits, KL, greedy continuations identical)");
        foreach (int kb in new[] { 4, 5, 6, 7, 10, 15, 31, 63 })
        {
            foreach (int vb in new[] { 2, 3, 5, 7, 15, 31 })
            {
                if (vb > kb)
                    continue;
                var plan = new Plan(layers) { ValueAxis = Axis.PerChannel };
                for (int l = 0; l < layers; l++)
                {
                    plan.Bound(l, true) = kb;
                    plan.Bound(l, false) = vb;
                }

                (double bits, double kl, double greedy) = EvaluateWithGreedy(corpus, plan);
                Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"   K {kb,2} V {vb,2}: {bits:F3} bits/elem, KL {kl:E2}, greedy {greedy:P0}"));
                results.Add(new { experiment = "key-value-bounds", keyBound = kb, valueBound = vb, valueAxis = "PerChannel", bits, kl, greedy });
            }
        }

    NearLossless:
        Console.WriteLine("7. Near-lossless bounds for exact greedy continuations (K per channel; V per channel or per token and head)");
        foreach ((int kb, int vb, Axis va) in new[] { (127, 31, Axis.PerChannel), (127, 63, Axis.PerChannel), (127, 127, Axis.PerChannel), (127, 63, Axis.PerTokenHead), (127, 127, Axis.PerTokenHead), (255, 127, Axis.PerChannel) })
        {
            var plan = new Plan(layers) { ValueAxis = va };
            for (int l = 0; l < layers; l++)
            {
                plan.Bound(l, true) = kb;
                plan.Bound(l, false) = vb;
            }

            (double bits, double kl, double greedy) = EvaluateWithGreedy(corpus, plan);
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"   K {kb,3} V {vb,3} ({va}): {bits:F3} bits/elem, KL {kl:E2}, greedy {greedy:P0}"));
            results.Add(new { experiment = "near-lossless", keyBound = kb, valueBound = vb, valueAxis = va.ToString(), bits, kl, greedy });
        }

        Directory.CreateDirectory(outputDirectory);
        string path = Path.Combine(outputDirectory, "codec-exploration.json");
        File.WriteAllText(path, JsonSerializer.Serialize(new { model = model.ModelId, prompts = corpus.Runs.Count, results }, new JsonSerializerOptions { WriteIndented = true }));
        Console.WriteLine($"wrote {path}");
    }

    private sealed class Plan
    {
        private readonly int[] _bounds;

        public Plan(int layers, int bound = 0)
        {
            _bounds = new int[2 * layers];
            Array.Fill(_bounds, bound);
        }

        public Axis KeyAxis { get; init; } = Axis.PerChannel;

        public Axis ValueAxis { get; init; } = Axis.PerToken;

        public bool Predict { get; init; }

        /// <summary>B for (layer, K or V); 0 means exact.</summary>
        public ref int Bound(int layer, bool keys) => ref _bounds[2 * layer + (keys ? 0 : 1)];
    }

    private static (double Bits, double Kl) Evaluate(KvCorpus corpus, Plan plan)
    {
        (double bits, double kl, _) = EvaluateWithGreedy(corpus, plan, greedy: false);
        return (bits, kl);
    }

    private static (double Bits, double Kl, double Greedy) EvaluateWithGreedy(KvCorpus corpus, Plan plan, bool greedy = true)
    {
        int matches = 0;
        double bits = 0, elements = 0, kl = 0;
        foreach (PromptRun run in corpus.Runs)
        {
            KvCache exact = run.ExactCache;
            var decoded = exact.TakePrefix(exact.Length);
            for (int layer = 0; layer < exact.Layers; layer++)
            {
                foreach (bool keys in new[] { true, false })
                {
                    int bound = plan.Bound(layer, keys);
                    Span<float> section = (keys ? decoded.WritableKeys(layer) : decoded.WritableValues(layer))[..(corpus.Chunk * exact.KvDim)];
                    elements += section.Length;
                    if (bound == 0)
                    {
                        bits += 16.0 * section.Length; // counted as fp16
                        continue;
                    }

                    bits += Quantize(section, corpus.Chunk, exact.KvDim, corpus.Model.Layout.HeadDim, bound, keys ? plan.KeyAxis : plan.ValueAxis, plan.Predict);
                }
            }

            kl += ContinuationQuality.MeanKl(run.ExactProbabilities,
                ContinuationQuality.NextTokenDistributions(corpus.Model, decoded, run.Tokens, corpus.Chunk, corpus.Continuation));
            if (greedy && ContinuationQuality.GreedyMatches(corpus.Model, decoded, run.Tokens, corpus.Chunk, corpus.Continuation))
                matches++;
        }

        return (bits / elements, kl / corpus.Runs.Count, matches / (double)corpus.Runs.Count);
    }

    /// <summary>Quantizes a section in place and returns its estimated size in bits (entropy per channel-group table + 16-bit scales + tables).</summary>
    private static double Quantize(Span<float> x, int tokens, int kvDim, int headDim, int bound, Axis axis, bool predict)
    {
        int width = axis == Axis.PerTokenHead ? headDim : kvDim;
        var q = new int[x.Length];
        int scaleCount = 0;
        for (int t = 0; t < tokens; t++)
        {
            for (int c = 0; c < kvDim; c++)
            {
                float scale = axis == Axis.PerChannel ? ChannelScale(x, tokens, kvDim, c, bound) : GroupScale(x, t * kvDim + c / width * width, width, bound);
                int i = t * kvDim + c;
                q[i] = scale == 0 ? 0 : (int)Math.Clamp(MathF.Round(x[i] / scale), -bound, bound);
                x[i] = q[i] * scale;
            }
        }

        scaleCount = axis == Axis.PerChannel ? kvDim : tokens * (kvDim / width);
        // Entropy with one table per head (tables of 2B+1 or 4B+1 symbols at 16 bits each).
        double bits = 16.0 * scaleCount;
        int heads = kvDim / headDim;
        int alphabet = predict ? 4 * bound + 1 : 2 * bound + 1;
        var counts = new int[alphabet];
        for (int h = 0; h < heads; h++)
        {
            Array.Clear(counts);
            int n = 0;
            for (int t = 0; t < tokens; t++)
            {
                for (int c = h * headDim; c < (h + 1) * headDim; c++)
                {
                    int v = predict && t > 0 ? q[t * kvDim + c] - q[(t - 1) * kvDim + c] : q[t * kvDim + c];
                    counts[v + (predict ? 2 * bound : bound)]++;
                    n++;
                }
            }

            foreach (int k in counts)
            {
                if (k > 0)
                    bits -= k * Math.Log2(k / (double)n);
            }

            bits += 16.0 * alphabet;
        }

        return bits;
    }

    private static float ChannelScale(ReadOnlySpan<float> x, int tokens, int kvDim, int c, int bound)
    {
        float max = 0;
        for (int t = 0; t < tokens; t++)
            max = MathF.Max(max, MathF.Abs(x[t * kvDim + c]));
        return max / bound;
    }

    private static float GroupScale(ReadOnlySpan<float> x, int start, int width, int bound)
    {
        float max = 0;
        for (int i = 0; i < width; i++)
            max = MathF.Max(max, MathF.Abs(x[start + i]));
        return max / bound;
    }
}
