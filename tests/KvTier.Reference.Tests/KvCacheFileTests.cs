using KvTier.Keys;
using KvTier.Layout;
using KvTier.Reference;
using KvTier.Tensors;
using KvTier.Testing;
using Xunit;

namespace KvTier.Reference.Tests;

/// <summary>The safetensors KV-cache exchange file (format-spec/kv-safetensors.md): round trips, and rejects what is not one.</summary>
public sealed class KvCacheFileTests : IDisposable
{
    private static readonly KvLayout TinyLayout =
        new(2, 1, 4, KvElementType.Float32, new RopeParameters(10000, 4, RopePairing.AdjacentPairs), keysStoredAfterRope: true);

    private readonly string _dir = Directory.CreateTempSubdirectory("kvtier-kvfile-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [Fact]
    public void Round_trip_preserves_layout_tokens_kv_and_prompt()
    {
        (ModelFingerprint fingerprint, int[] tokens, KvCache cache) = Tiny(3);
        string path = Path.Combine(_dir, "tiny.safetensors");

        KvCacheFile.Write(path, fingerprint, tokens, cache, "a prompt");
        KvCacheFileContents read = KvCacheFile.Read(path);

        Assert.Equal(fingerprint, read.Fingerprint);
        Assert.Equal(TinyLayout, read.Layout);
        Assert.Equal(tokens, read.Tokens);
        Assert.Equal("a prompt", read.Prompt);
        Assert.Equal(3, read.Cache.Length);
        for (int layer = 0; layer < TinyLayout.Layers; layer++)
        {
            Assert.Equal(cache.Keys(layer).ToArray(), read.Cache.Keys(layer).ToArray());
            Assert.Equal(cache.Values(layer).ToArray(), read.Cache.Values(layer).ToArray());
        }
    }

    [Fact]
    public void Writer_rejects_a_cache_that_does_not_match_the_layout_or_tokens()
    {
        (ModelFingerprint fingerprint, int[] tokens, KvCache cache) = Tiny(3);
        Assert.Throws<ArgumentException>(() => KvCacheFile.CreateWriter(fingerprint, tokens[..2], cache));
        Assert.Throws<ArgumentException>(() => KvCacheFile.CreateWriter(fingerprint, [], new KvCache(3, 4, 1)));
    }

    public static TheoryData<string> Tamperings() => new()
    {
        "format", "fingerprint", "layers", "element_type", "rope_pairing", "keys_after_rope", "tokens-count",
        "missing-tensor", "extra-tensor", "wrong-dtype", "wrong-shape", "missing-field",
    };

    [Theory]
    [MemberData(nameof(Tamperings))]
    public void Files_that_are_not_valid_kv_caches_are_rejected_with_a_typed_error(string tampering)
    {
        (ModelFingerprint fingerprint, int[] tokens, KvCache cache) = Tiny(3);
        var meta = new Dictionary<string, string>
        {
            ["format"] = KvCacheFile.FormatName,
            ["model_id"] = fingerprint.ModelId,
            ["fingerprint"] = fingerprint.ToString(),
            ["layers"] = "2",
            ["kv_heads"] = "1",
            ["head_dim"] = "4",
            ["element_type"] = "f32",
            ["rope_pairing"] = "adjacent",
            ["rope_theta"] = "10000",
            ["rotary_dims"] = "4",
            ["keys_after_rope"] = "true",
            ["tokens"] = "3",
        };
        switch (tampering)
        {
            case "format": meta["format"] = "kvtier.kv-cache.v2"; break;
            case "fingerprint": meta["fingerprint"] = new string('0', 64); break;
            case "layers": meta["layers"] = "-1"; break;
            case "element_type": meta["element_type"] = "f8"; break;
            case "rope_pairing": meta["rope_pairing"] = "sideways"; break;
            case "keys_after_rope": meta["keys_after_rope"] = "yes"; break;
            case "tokens-count": meta["tokens"] = "4"; break;
            case "missing-field": meta.Remove("head_dim"); break;
        }

        var writer = new SafetensorsWriter();
        foreach ((string key, string value) in meta)
            writer.AddMetadata(key, value);
        if (tampering == "wrong-dtype")
            writer.AddInt64("tokens", tokens.Select(t => (long)t).ToArray(), 3);
        else
            writer.AddInt32("tokens", tokens, 3);
        for (int layer = 0; layer < 2; layer++)
        {
            if (!(tampering == "missing-tensor" && layer == 1))
                writer.AddFloat32(KvCacheFile.KeysTensor(layer), cache.Keys(layer), 3, 4);
            if (tampering == "wrong-shape" && layer == 1)
                writer.AddFloat32(KvCacheFile.ValuesTensor(layer), cache.Values(layer), 4, 3);
            else
                writer.AddFloat32(KvCacheFile.ValuesTensor(layer), cache.Values(layer), 3, 4);
        }

        if (tampering == "extra-tensor")
            writer.AddFloat32("layers.2.k", cache.Keys(0), 3, 4);

        SafetensorsFile file = SafetensorsFile.Parse(writer.ToArray(), "tampered.safetensors");
        var e = Assert.Throws<KvCacheFileException>(() => KvCacheFile.Read(file));
        Assert.Equal("tampered.safetensors", e.SourceName);
    }

    [Fact]
    public void A_file_that_is_not_safetensors_is_a_safetensors_format_error()
    {
        string path = Path.Combine(_dir, "junk.safetensors");
        File.WriteAllBytes(path, [1, 2, 3]);
        Assert.Throws<SafetensorsFormatException>(() => KvCacheFile.Read(path));
    }

    [RequiresModelFact]
    public void A_prefill_continued_from_an_exported_file_gives_the_logits_of_a_full_prefill()
    {
        LlamaModel model = TestModel.Model;
        GenerationResult run = TestModel.NewSession().Generate("Once upon a time", 48);
        int[] tokens = [.. run.FedTokens];
        string path = Path.Combine(_dir, "once.safetensors");
        KvCacheFile.Write(path, ModelFingerprint.Compute(model.ModelId, model.Layout), tokens[..32], run.Cache.TakePrefix(32));

        KvCacheFileContents loaded = KvCacheFile.Read(path);
        LlamaSession continued = TestModel.NewSession();
        float[] reused = continued.Prefill(tokens, loaded.Cache).ToArray();
        float[] full = TestModel.NewSession().Prefill(tokens).ToArray();

        Assert.Equal(tokens.Length - 32, continued.ForwardCount);
        Assert.Equal(full.Length, reused.Length);
        for (int i = 0; i < full.Length; i++)
            Assert.True(Math.Abs(full[i] - reused[i]) <= 1e-5f, $"logit {i}: {full[i]} vs {reused[i]}");
    }

    private static (ModelFingerprint Fingerprint, int[] Tokens, KvCache Cache) Tiny(int positions)
    {
        var fingerprint = ModelFingerprint.Compute("tiny", TinyLayout);
        var cache = new KvCache(TinyLayout.Layers, TinyLayout.KvDim, positions);
        for (int layer = 0; layer < TinyLayout.Layers; layer++)
        {
            float[] k = Enumerable.Range(0, positions * 4).Select(i => (layer * 100) + i + 0.25f).ToArray();
            float[] v = Enumerable.Range(0, positions * 4).Select(i => -(layer * 100) - i - 0.5f).ToArray();
            cache.Load(layer, k, v);
        }

        cache.SetLength(positions);
        return (fingerprint, Enumerable.Range(1, positions).ToArray(), cache);
    }
}
