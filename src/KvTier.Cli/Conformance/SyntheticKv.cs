using KvTier.Format;
using KvTier.Layout;

namespace KvTier.Cli.Conformance;

/// <summary>
/// Deterministic KV-like content for the conformance vectors, without a model: keys are smooth along tokens with
/// a few outlier channels (as real keys are, per channel), values are noisier per token; rare spikes in both.
/// </summary>
/// <remarks>
/// Only integer hashing and IEEE-754 operations that are exactly rounded (+, −, ×, ÷, floor, abs) are used, so every
/// platform and runtime produces the same bits; no transcendental functions, whose results vary between libraries.
/// Stateless; safe to call from any thread.
/// </remarks>
internal static class SyntheticKv
{
    /// <summary>A chunk of <paramref name="tokens"/> tokens of <paramref name="layout"/>, rounded to its element type.</summary>
    public static KvChunk Chunk(KvLayout layout, int tokens, ulong seed)
    {
        var chunk = new KvChunk(layout, tokens);
        var values = new float[chunk.ElementsPerSection];
        for (int layer = 0; layer < layout.Layers; layer++)
        {
            foreach (SectionKind kind in (ReadOnlySpan<SectionKind>)[SectionKind.Keys, SectionKind.Values])
            {
                Fill(values, layout.KvDim, tokens, Mix(seed, (ulong)(2 * layer + (int)kind)), kind);
                chunk.SetSingle(layer, kind, values);
            }
        }

        return chunk;
    }

    /// <summary>Token ids for key derivation: any fixed, valid sequence serves, since records do not carry them.</summary>
    public static int[] Tokens(int count, int salt)
    {
        var tokens = new int[count];
        for (int t = 0; t < count; t++)
            tokens[t] = (int)(((long)t * 7919 + (long)salt * 104729 + 11) % 32000);
        return tokens;
    }

    private static void Fill(Span<float> values, int kvDim, int tokens, ulong sectionSeed, SectionKind kind)
    {
        bool keys = kind == SectionKind.Keys;
        for (int c = 0; c < kvDim; c++)
        {
            ulong h = Mix(sectionSeed, (ulong)c);
            float amplitude = keys ? 0.5f + 1.5f * Unit(h) : 0.25f + 0.5f * Unit(h);
            if (keys && Mix(h, 1) % 16 == 0)
                amplitude *= 12f; // outlier channels
            float period = 4 + (int)(Mix(h, 2) % 61); // tokens per cycle, 4 to 64
            float phase = Unit(Mix(h, 3));
            float noise = keys ? 0.05f : 0.3f;
            for (int t = 0; t < tokens; t++)
            {
                float x = t / period + phase;
                float triangle = 4f * MathF.Abs(x - MathF.Floor(x) - 0.5f) - 1f; // in [-1, 1], smooth along tokens
                ulong g = Mix(h, (ulong)t + 4);
                float v = amplitude * (triangle + noise * (Unit(g) - 0.5f));
                if (g % 509 == 0)
                    v *= 8f; // rare spikes
                values[t * kvDim + c] = v;
            }
        }
    }

    // SplitMix64's finalizer over a combination of the two inputs.
    private static ulong Mix(ulong a, ulong b)
    {
        ulong z = a + 0x9E3779B97F4A7C15UL * (b + 1);
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
        return z ^ (z >> 31);
    }

    // The top 24 bits as a float in [0, 1): exact.
    private static float Unit(ulong h) => (h >> 40) * (1f / (1 << 24));
}
