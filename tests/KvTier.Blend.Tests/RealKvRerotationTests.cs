using KvTier.Keys;
using KvTier.Layout;
using KvTier.Reference;
using KvTier.Testing;
using Xunit;
using Xunit.Abstractions;

namespace KvTier.Blend.Tests;

/// <summary>
/// On the real model's KV: a document computed at positions p.. and blended at q.. has layer-0 K equal, to within the
/// rounding of the two RoPE computations, to what a full prefill computes for the document at q (layer 0's K and V
/// depend only on the token and its position), and layer-0 V identical. Rotating back to p restores the stored K.
/// </summary>
public sealed class RealKvRerotationTests(ITestOutputHelper output)
{
    private const string SystemPrompt = "Here are some stories.";
    private const string Document = "Lily found a red ball in the garden. She was very happy and showed it to her mom.";
    private static readonly double U = Math.ScaleB(1, -24);

    [RequiresModelTheory]
    [InlineData("")]                                                                   // q = 1 < p
    [InlineData("Once upon a time there was a little girl named Sue. She liked to play outside with her friends every day.")] // q > p
    public async Task A_moved_document_has_the_layer0_keys_of_a_full_prefill_at_its_new_position(string before)
    {
        LlamaModel model = TestModel.Model;
        KvLayout layout = model.Layout;
        int[] prefix = model.Tokenizer.Encode(SystemPrompt, bos: true);
        int[] document = model.Tokenizer.Encode(Document, bos: false);
        int[] filler = before.Length == 0 ? [Tokenizer.Bos] : model.Tokenizer.Encode(before, bos: true);
        int p = prefix.Length, q = filler.Length, n = document.Length, kvDim = layout.KvDim;
        Assert.NotEqual(p, q);

        await using var store = new BlendStore(new ChunkKeys(model.ModelId, layout, "", chunkTokens: 8));
        LlamaSession stored = model.CreateSession();
        stored.Prefill([.. prefix, .. document]);
        ModelKv.StoreSegments(store.Store, store.Keys, stored.Cache, document, p);
        BlendedKv kv = await store.Blender.BlendAsync(new BlendPlan([BlendEntry.Compute(q, 0), BlendEntry.SegmentTokens(document, q)]));
        Assert.Equal(n, kv.ReusedTokens.Count);

        LlamaSession full = model.CreateSession();
        full.Prefill([.. filler, .. document]);
        ReadOnlySpan<float> expectedK = full.Cache.Keys(0).Slice(q * kvDim, n * kvDim);
        ReadOnlySpan<float> actualK = kv.Keys(0).Slice(q * kvDim, n * kvDim);
        Bits.Equal(full.Cache.Values(0).Slice(q * kvDim, n * kvDim), kv.Values(0).Slice(q * kvDim, n * kvDim), "layer 0 V");

        // Bound, per channel of a pair (a, b), in units of u = 2⁻²⁴ times the pair's magnitude |x_a| + |x_b|:
        // the pre-RoPE key is the same bits in both (same token, same weights). The full prefill rotates it by
        // fl(q·f̂) with f̂ = fl(1/fl(10000^(2k/8))) in binary32 (f̂ within ~3u of f = 10000^(−2k/8) ≤ 1) and the stored key
        // was rotated by fl(p·f̂); the blend adds Δ·f (binary64, Δ = q − p). The angles then differ by at most
        // f·(3u·|Δ| + u·q + u·p) ≤ (3|Δ| + p + q)u radians, moving each channel by at most that times the pair's magnitude.
        // On top come the binary32 cos/sin of three rotations (≤ ~1u each) and their products and sums (≤ ~2u each per
        // rotation): a constant we take as 16u.
        double units = 3.0 * Math.Abs(q - p) + p + q + 16;
        double worst = 0;
        for (int pair = 0; pair < n * kvDim / 2; pair++)
        {
            int a = 2 * pair, b = a + 1; // adjacent pairs
            double magnitude = Math.Abs(expectedK[a]) + Math.Abs(expectedK[b]);
            foreach (int i in new[] { a, b })
            {
                double diff = Math.Abs((double)actualK[i] - expectedK[i]);
                worst = Math.Max(worst, diff / (U * magnitude));
                Assert.True(diff <= units * U * magnitude, $"element {i}: blended {actualK[i]}, full prefill {expectedK[i]}: |diff| {diff:E3} > {units * U * magnitude:E3}");
            }
        }

        output.WriteLine($"p {p}, q {q}: worst error {worst:F1}u of the pair magnitude (bound {units}u)");
        Assert.False(actualK.SequenceEqual(stored.Cache.Keys(0).Slice(p * kvDim, n * kvDim)), "the keys were not moved");
    }

    [RequiresModelFact]
    public async Task Rotating_a_blended_document_back_restores_the_stored_keys()
    {
        LlamaModel model = TestModel.Model;
        KvLayout layout = model.Layout;
        int[] prefix = model.Tokenizer.Encode(SystemPrompt, bos: true);
        int[] document = model.Tokenizer.Encode(Document, bos: false);
        int p = prefix.Length, q = p + 150, n = document.Length, kvDim = layout.KvDim;

        await using var store = new BlendStore(new ChunkKeys(model.ModelId, layout, "", chunkTokens: 8));
        LlamaSession session = model.CreateSession();
        session.Prefill([.. prefix, .. document]);
        ModelKv.StoreSegments(store.Store, store.Keys, session.Cache, document, p);
        BlendedKv kv = await store.Blender.BlendAsync(new BlendPlan([BlendEntry.Compute(q, 0), BlendEntry.SegmentTokens(document, q)]));

        var cos = new float[layout.Rope.RotaryDims / 2];
        var sin = new float[cos.Length];
        RopeRotation.BuildAngles(layout.Rope, p - q, cos, sin);
        for (int layer = 0; layer < layout.Layers; layer++)
        {
            float[] back = kv.Keys(layer).Slice(q * kvDim, n * kvDim).ToArray();
            RopeRotation.Rerotate(back, layout, cos, sin);
            ReadOnlySpan<float> original = session.Cache.Keys(layer).Slice(p * kvDim, n * kvDim);
            Bits.Equal(session.Cache.Values(layer).Slice(p * kvDim, n * kvDim), kv.Values(layer).Slice(q * kvDim, n * kvDim), $"layer {layer} V");
            // +Δ then −Δ: the tables are exact transposes, so only their rounding (c² + s² − 1, ~2u) and two rounded
            // rotations (~2u·(|x_a| + |x_b|) each) remain: 16u of the pair magnitude, as RopeRotationTests bounds it.
            for (int pair = 0; pair < n * kvDim / 2; pair++)
            {
                int a = 2 * pair, b = a + 1;
                double bound = 16 * U * (Math.Abs(original[a]) + Math.Abs(original[b]));
                foreach (int i in new[] { a, b })
                    Assert.True(Math.Abs((double)back[i] - original[i]) <= bound, $"layer {layer} element {i}: {back[i]} vs stored {original[i]}");
            }
        }
    }
}
