using System.Runtime.InteropServices;
using KvTier.Keys;
using KvTier.Layout;
using KvTier.Reference;
using KvTier.Tensors;

namespace KvTier.Fuzz;

/// <summary>
/// Fuzzes <see cref="KvCacheFile.Read(SafetensorsFile)"/> over <see cref="SafetensorsFile.Parse(byte[], string?)"/>
/// (format-spec/kv-safetensors.md) and, when a file is accepted, checks that what was read matches the file's tensors
/// and survives a write and a second read unchanged.
/// </summary>
internal static class KvCacheFileTarget
{
    public static readonly FuzzTarget Target = new(Run, Seeds);

    private static void Run(byte[] input)
    {
        SafetensorsFile file;
        KvCacheFileContents contents;
        try
        {
            file = SafetensorsFile.Parse(input, "fuzz-input");
            contents = KvCacheFile.Read(file);
        }
        catch (KvTierFormatException)
        {
            return; // the expected outcome for bad input
        }

        KvLayout layout = contents.Layout;
        KvCache cache = contents.Cache;
        if (cache.Layers != layout.Layers || cache.KvDim != layout.KvDim || cache.Length != contents.Tokens.Length)
            throw new InvalidOperationException(
                $"Cache of {cache.Layers} layers × {cache.KvDim} × {cache.Length} positions for layout {layout.Layers} × {layout.KvDim} and {contents.Tokens.Length} tokens.");
        if (!contents.Tokens.AsSpan().SequenceEqual(file.GetInt32(KvCacheFile.TokensTensor)))
            throw new InvalidOperationException("Tokens differ from the tokens tensor.");
        for (int layer = 0; layer < layout.Layers; layer++)
        {
            ExpectSameBits($"layer {layer} keys", file.GetFloat32(KvCacheFile.KeysTensor(layer)), cache.Keys(layer));
            ExpectSameBits($"layer {layer} values", file.GetFloat32(KvCacheFile.ValuesTensor(layer)), cache.Values(layer));
        }

        // What was read must write back into a file that reads the same.
        byte[] rewritten = KvCacheFile.CreateWriter(contents.Fingerprint, contents.Tokens, cache, contents.Prompt).ToArray();
        KvCacheFileContents again = KvCacheFile.Read(SafetensorsFile.Parse(rewritten, "rewritten"));
        if (!again.Fingerprint.Equals(contents.Fingerprint) || again.Prompt != contents.Prompt || !again.Tokens.AsSpan().SequenceEqual(contents.Tokens))
            throw new InvalidOperationException("Writing and reading the file again changed its fingerprint, prompt or tokens.");
        for (int layer = 0; layer < layout.Layers; layer++)
        {
            ExpectSameBits($"rewritten layer {layer} keys", cache.Keys(layer), again.Cache.Keys(layer));
            ExpectSameBits($"rewritten layer {layer} values", cache.Values(layer), again.Cache.Values(layer));
        }
    }

    private static void ExpectSameBits(string what, ReadOnlySpan<float> expected, ReadOnlySpan<float> actual)
    {
        if (!MemoryMarshal.AsBytes(expected).SequenceEqual(MemoryMarshal.AsBytes(actual)))
            throw new InvalidOperationException($"{what}: {actual.Length} floats read differ from the {expected.Length} in the file.");
    }

    private static IEnumerable<(string, byte[])> Seeds()
    {
        // The tiny layout of the brief: 2 layers, 1 KV head of dimension 4, llama2.c's RoPE.
        var llama = new KvLayout(2, 1, 4, KvElementType.Float32, new RopeParameters(10000, 4, RopePairing.AdjacentPairs), keysStoredAfterRope: true);
        yield return ("three-tokens.bin", Build("tiny-llama", llama, [1, 403, 7], "Once"));
        yield return ("empty-no-prompt.bin", Build("tiny-llama", llama, [], null));

        // Other layout metadata: two heads, partial split-half RoPE, f16 engine type, a non-ASCII model id and prompt.
        var partial = new KvLayout(1, 2, 4, KvElementType.Float16, new RopeParameters(500000.5, 2, RopePairing.SplitHalves), keysStoredAfterRope: false);
        yield return ("split-half-f16.bin", Build("mod\u00e8le/r\u00e9v", partial, [1, 2], "h\u00e9 \U0001F600"));

        var noRope = new KvLayout(1, 1, 2, KvElementType.BFloat16, RopeParameters.None, keysStoredAfterRope: false);
        yield return ("no-rope-bf16.bin", Build("m", noRope, [0], ""));
    }

    private static byte[] Build(string modelId, KvLayout layout, int[] tokens, string? prompt)
    {
        var cache = new KvCache(layout.Layers, layout.KvDim, Math.Max(tokens.Length, 1));
        var random = new Random(tokens.Length + layout.Layers);
        for (int layer = 0; layer < layout.Layers; layer++)
        {
            var keys = new float[tokens.Length * layout.KvDim];
            var values = new float[keys.Length];
            for (int i = 0; i < keys.Length; i++)
            {
                keys[i] = (float)(random.NextDouble() - 0.5);
                values[i] = (float)(random.NextDouble() - 0.5);
            }

            cache.Load(layer, keys, values);
        }

        cache.SetLength(tokens.Length);
        return KvCacheFile.CreateWriter(ModelFingerprint.Compute(modelId, layout), tokens, cache, prompt).ToArray();
    }
}
