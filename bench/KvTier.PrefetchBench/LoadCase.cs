using System.Buffers.Binary;
using System.Security.Cryptography;
using KvTier.Format;
using KvTier.Format.Codecs;
using KvTier.Keys;
using KvTier.Layout;

namespace KvTier.PrefetchBench;

/// <summary>One stored chunk: its key and its whole record.</summary>
internal readonly record struct BenchRecord(ChunkKey Key, byte[] Bytes);

/// <summary>
/// A load under test: a layout, a codec, chunk size and how many chunks one request loads. Values are smooth-ish
/// synthetic activations (a per-channel scale times a bounded random walk over tokens), so that the entropy coder sees
/// roughly the statistics of real KV rather than white noise.
/// </summary>
internal sealed record LoadCase(string Name, string Description, string ModelId, KvLayout Layout, int Tokens, int Chunks, CodecId Codec, int? Level)
{
    /// <summary>An 8B-class model (Llama-3-8B's KV shape): 32 layers, 8 KV heads of 128, fp16.</summary>
    public static readonly KvLayout EightBClass = new(32, 8, 128, KvElementType.Float16,
        new RopeParameters(500000, 128, RopePairing.SplitHalves), keysStoredAfterRope: true);

    /// <summary>
    /// The reference model's layout (stories260K: 5 layers, 4 KV heads of 8, f32, keys after RoPE with theta 10000
    /// over all channels, adjacent pairs), as <c>LlamaModel.Layout</c> builds it from the checkpoint's config.
    /// Hard-coded so the benchmark needs no model files.
    /// </summary>
    public static readonly KvLayout Stories260K = new(5, 4, 8, KvElementType.Float32,
        new RopeParameters(10000, 8, RopePairing.AdjacentPairs), keysStoredAfterRope: true);

    /// <summary>Codec name as the CLI spells it, with the level.</summary>
    public string CodecName => Codec == CodecId.Raw ? "raw" : $"{ChunkCodecs.Get(Codec).Name} {Level ?? ChunkCodecs.Get(Codec).DefaultLevel}";

    /// <summary>
    /// Builds <paramref name="count"/> records: deterministic for a seed, each with its own key and its own first row.
    /// </summary>
    public BenchRecord[] Build(int count, int seed)
    {
        var fingerprint = ModelFingerprint.Compute(ModelId, Layout);
        var chunk = new KvChunk(Layout, Tokens);
        var random = new Random(seed);
        int kvDim = Layout.KvDim;
        var values = new float[chunk.ElementsPerSection];
        var firstKeys = new float[Layout.Layers][];
        for (int layer = 0; layer < Layout.Layers; layer++)
        {
            for (int kind = 0; kind < 2; kind++)
            {
                Fill(values, kvDim, random, keys: kind == 0);
                chunk.SetSingle(layer, (SectionKind)kind, values);
                if (kind == 0)
                    firstKeys[layer] = (float[])values.Clone();
            }
        }

        var records = new BenchRecord[count];
        Span<byte> keyInput = stackalloc byte[12];
        Span<byte> keyBytes = stackalloc byte[ChunkKey.Size];
        for (int i = 0; i < count; i++)
        {
            // Keys are SHA-256 outputs, as real chunk keys are: here of the seed and the index.
            BinaryPrimitives.WriteInt32LittleEndian(keyInput, seed);
            BinaryPrimitives.WriteInt64LittleEndian(keyInput[4..], i);
            SHA256.HashData(keyInput, keyBytes);
            var key = ChunkKey.FromBytes(keyBytes);
            // Different contents per record without refilling: nudge layer 0's first key row.
            float[] keys0 = firstKeys[0];
            for (int c = 0; c < kvDim; c++)
                keys0[c] += 0.01f * (i + 1);
            chunk.SetSingle(0, SectionKind.Keys, keys0);
            records[i] = new BenchRecord(key, ChunkRecordWriter.Encode(chunk, new ChunkRecordMetadata(fingerprint, key), Codec, Level));
        }

        return records;
    }

    private static void Fill(float[] values, int kvDim, Random random, bool keys)
    {
        // Per-channel scales spread over two orders of magnitude (keys have a few large channels, as RoPE'd keys do);
        // each channel drifts over tokens around its own offset.
        Span<float> scale = kvDim <= 1024 ? stackalloc float[kvDim] : new float[kvDim];
        Span<float> state = kvDim <= 1024 ? stackalloc float[kvDim] : new float[kvDim];
        for (int c = 0; c < kvDim; c++)
        {
            scale[c] = (float)Math.Exp((random.NextDouble() - 0.5) * (keys ? 4.0 : 2.0));
            state[c] = (random.NextSingle() - 0.5f) * 2;
        }

        int tokens = values.Length / kvDim;
        for (int t = 0; t < tokens; t++)
        {
            for (int c = 0; c < kvDim; c++)
            {
                float next = state[c] * 0.9f + (random.NextSingle() - 0.5f);
                state[c] = next;
                values[t * kvDim + c] = next * scale[c];
            }
        }
    }
}
