using System.Buffers.Binary;
using System.Security.Cryptography;
using KvTier.Format;
using KvTier.Format.Codecs;
using KvTier.Keys;
using KvTier.Layout;

namespace KvTier.StoreBench;

/// <summary>One stored chunk: its key and its whole record.</summary>
internal readonly record struct BenchRecord(ChunkKey Key, byte[] Bytes);

/// <summary>
/// A chunk size under test: a layout, a token count and how many records to store. Records are raw-codec chunk
/// records (so their size is what the layout says) of random-ish values, each with its own key and contents.
/// </summary>
internal sealed record ChunkCase(string Name, string Description, string ModelId, KvLayout Layout, int Tokens, int Count)
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

    /// <summary>Builds the records: deterministic for a seed; each differs in key and in its first elements.</summary>
    public BenchRecord[] Build(int seed) => Build(ModelId, Layout, Tokens, 0, Count, seed);

    /// <summary>Builds records <paramref name="first"/> to <paramref name="first"/> + <paramref name="count"/> − 1 of a sequence.</summary>
    public static BenchRecord[] Build(string modelId, KvLayout layout, int tokens, long first, int count, int seed)
    {
        var fingerprint = ModelFingerprint.Compute(modelId, layout);
        var chunk = new KvChunk(layout, tokens);
        var random = new Random(seed);
        for (int layer = 0; layer < layout.Layers; layer++)
        {
            FillRandom(chunk.Section(layer, SectionKind.Keys), layout.ElementType, random);
            FillRandom(chunk.Section(layer, SectionKind.Values), layout.ElementType, random);
        }

        var records = new BenchRecord[count];
        Span<byte> keyInput = stackalloc byte[12];
        Span<byte> keyBytes = stackalloc byte[ChunkKey.Size];
        for (int i = 0; i < count; i++)
        {
            long index = first + i;
            // Keys are SHA-256 outputs, as real chunk keys are: here of the seed and the index.
            BinaryPrimitives.WriteInt32LittleEndian(keyInput, seed);
            BinaryPrimitives.WriteInt64LittleEndian(keyInput[4..], index);
            SHA256.HashData(keyInput, keyBytes);
            var key = ChunkKey.FromBytes(keyBytes);
            for (int layer = 0; layer < layout.Layers; layer++)
            {
                // Different contents per record without refilling: stamp the index into each section's start.
                BinaryPrimitives.WriteInt64LittleEndian(chunk.Section(layer, SectionKind.Keys), index);
                BinaryPrimitives.WriteInt64LittleEndian(chunk.Section(layer, SectionKind.Values), ~index);
            }

            records[i] = new BenchRecord(key, ChunkRecordWriter.Encode(chunk, new ChunkRecordMetadata(fingerprint, key), CodecId.Raw));
        }

        return records;
    }

    private static void FillRandom(Span<byte> section, KvElementType type, Random random)
    {
        // Roughly activation-like values in [-4, 4): finite in every element type, incompressible enough.
        if (type == KvElementType.Float32)
        {
            for (int i = 0; i + 4 <= section.Length; i += 4)
                BinaryPrimitives.WriteSingleLittleEndian(section[i..], (random.NextSingle() - 0.5f) * 8);
        }
        else if (type == KvElementType.Float16)
        {
            for (int i = 0; i + 2 <= section.Length; i += 2)
                BinaryPrimitives.WriteHalfLittleEndian(section[i..], (Half)((random.NextSingle() - 0.5f) * 8));
        }
        else
        {
            random.NextBytes(section);
            for (int i = 1; i < section.Length; i += 2)
                section[i] &= 0xBF; // BFloat16: clear the top exponent bit so nothing is Inf or NaN.
        }
    }
}
