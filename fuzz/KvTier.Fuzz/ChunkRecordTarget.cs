using System.Buffers.Binary;
using System.IO.Hashing;
using KvTier.Format;
using KvTier.Format.Codecs;
using KvTier.Keys;
using KvTier.Layout;

namespace KvTier.Fuzz;

/// <summary>
/// Fuzzes the chunk record reader (format-spec/kvtier-format.md §2–§5): <see cref="ChunkRecord.Parse"/>, padding and
/// <see cref="ChunkRecord.Decode"/>, with the allocation bound and the invariants of <see cref="ChunkRecordFuzzCheck"/>
/// (tests/KvTier.Format.Tests/Fuzz/, linked here so that the replay test runs the same check).
/// </summary>
internal static class ChunkRecordTarget
{
    public static readonly FuzzTarget Target = new(input => ChunkRecordFuzzCheck.Run(input), Seeds);

    private static IEnumerable<(string, byte[])> Seeds()
    {
        // raw in each element type: full adjacent-pair RoPE; partial split-half RoPE with two heads and a non-ASCII model id;
        // no RoPE, with infinities and a NaN among the values (raw keeps any bits).
        KvLayout f32 = Layout(2, 2, 4, KvElementType.Float32, new RopeParameters(10000, 4, RopePairing.AdjacentPairs), keysAfterRope: true);
        KvLayout f16 = Layout(1, 2, 4, KvElementType.Float16, new RopeParameters(500000.5, 2, RopePairing.SplitHalves), keysAfterRope: false);
        KvLayout bf16 = Layout(1, 1, 2, KvElementType.BFloat16, RopeParameters.None, keysAfterRope: false);
        yield return ("raw-f32.bin", Encode("tiny-llama", f32, 3, CodecId.Raw));
        yield return ("raw-f16.bin", Encode("mod\u00e8le/r\u00e9v", f16, 2, CodecId.Raw));
        yield return ("raw-bf16-special-values.bin", Encode("m", bf16, 4, CodecId.Raw, special: true));
        yield return ("raw-one-token.bin", Encode("tiny-llama", f32, 1, CodecId.Raw));
        yield return ("q8-f32.bin", Encode("tiny-llama", f32, 3, CodecId.Q8));
        yield return ("q8-f16-segment-key.bin", Encode("mod\u00e8le/r\u00e9v", f16, 2, CodecId.Q8, segment: true, firstPosition: 1000));

        // ans only once the codec is in the build (ChunkCodecs.Lossy throws NotSupportedException until then).
        foreach (int level in new[] { 1, 2 })
        {
            byte[]? ans = null;
            try
            {
                ans = Encode("tiny-llama", f32, 3, CodecId.Ans, level: level);
            }
            catch (NotSupportedException)
            {
                Console.Error.WriteLine($"chunk-record: the ans codec is not in this build; no ans-level{level}.bin seed.");
            }

            if (ans is not null)
                yield return ($"ans-level{level}.bin", ans);
        }

        // What a v2 writer may add and a v1 reader must skip (§6): an unused flag bit, 8 more header bytes, 40-byte entries.
        yield return ("v2-forward-compatible.bin", AsVersion2(Encode("tiny-llama", Layout(1, 1, 4, KvElementType.Float32,
            new RopeParameters(10000, 4, RopePairing.AdjacentPairs), keysAfterRope: true), 2, CodecId.Raw)));
    }

    private static KvLayout Layout(int layers, int kvHeads, int headDim, KvElementType type, RopeParameters rope, bool keysAfterRope) =>
        new(layers, kvHeads, headDim, type, rope, keysAfterRope);

    private static byte[] Encode(string modelId, KvLayout layout, int tokens, CodecId codec, int? level = null, bool special = false, bool segment = false, int firstPosition = 0)
    {
        // Smooth per-channel signals with an outlier channel, like real keys and values; deterministic.
        var chunk = new KvChunk(layout, tokens);
        var random = new Random(tokens * 31 + layout.KvDim);
        var values = new float[chunk.ElementsPerSection];
        for (int layer = 0; layer < layout.Layers; layer++)
        {
            foreach (SectionKind kind in (ReadOnlySpan<SectionKind>)[SectionKind.Keys, SectionKind.Values])
            {
                for (int i = 0; i < values.Length; i++)
                {
                    int t = i / layout.KvDim, c = i % layout.KvDim;
                    values[i] = (c % 7 == 3 ? 8f : 1f) * (MathF.Sin(0.3f * t + c + layer) + 0.25f * (random.NextSingle() - 0.5f));
                }

                if (special)
                {
                    values[0] = float.PositiveInfinity;
                    values[1] = float.NegativeInfinity;
                    values[^1] = float.NaN;
                }

                chunk.SetSingle(layer, kind, values);
            }
        }

        int[] prompt = new[] { 1, 403, 7, 9, 12 }[..Math.Min(5, tokens)];
        var keys = new ChunkKeys(modelId, layout);
        ChunkKey key = segment ? keys.SegmentKey(prompt) : keys.PrefixKeys(prompt)[0];
        var metadata = new ChunkRecordMetadata(keys.Fingerprint, key, segment ? ChunkKeyKind.Segment : ChunkKeyKind.Prefix, firstPosition);
        return ChunkRecordWriter.Encode(chunk, metadata, codec, level);
    }

    // Lays a v1 record out again as format_version 2: 8 zero bytes after the model id's padding, 40-byte entries (the last 8 zero).
    private static byte[] AsVersion2(byte[] v1)
    {
        ChunkRecord record = ChunkRecord.Parse(v1);
        int oldHeaderSize = record.Header.HeaderSize;
        int headerSize = oldHeaderSize + 8;
        const int EntrySize = 40;
        int count = record.Sections.Count;
        long position = Align(headerSize + count * EntrySize);
        var offsets = new long[count];
        for (int j = 0; j < count; j++)
        {
            offsets[j] = Align(position);
            position = offsets[j] + record.Sections[j].Length;
        }

        var v2 = new byte[position];
        Span<byte> r = v2;
        v1.AsSpan(0, oldHeaderSize).CopyTo(r);
        BinaryPrimitives.WriteUInt16LittleEndian(r[8..], 2);
        BinaryPrimitives.WriteUInt32LittleEndian(r[12..], 0x0001_0000); // an unused flag bit
        BinaryPrimitives.WriteUInt32LittleEndian(r[16..], (uint)headerSize);
        BinaryPrimitives.WriteUInt16LittleEndian(r[20..], EntrySize);
        BinaryPrimitives.WriteUInt64LittleEndian(r[128..], (ulong)position);
        for (int j = 0; j < count; j++)
        {
            SectionEntry section = record.Sections[j];
            v1.AsSpan(oldHeaderSize + 32 * j, 32).CopyTo(r[(headerSize + EntrySize * j)..]);
            BinaryPrimitives.WriteUInt64LittleEndian(r[(headerSize + EntrySize * j)..], (ulong)offsets[j]);
            v1.AsSpan((int)section.Offset, (int)section.Length).CopyTo(r[(int)offsets[j]..]);
        }

        r.Slice(152, 8).Clear();
        BinaryPrimitives.WriteUInt64LittleEndian(r[152..], XxHash3.HashToUInt64(r[..(headerSize + count * EntrySize)]));
        return v2;
    }

    private static long Align(long value) => (value + 63) & ~63L;
}
