using KvTier.Cli.Records;
using KvTier.Format;
using KvTier.Format.Codecs;
using KvTier.Keys;
using KvTier.Layout;

namespace KvTier.Cli.Conformance;

/// <summary>
/// Builds the conformance vectors of format-spec/vectors/ deterministically, without a model: valid records over
/// every codec, level and element type and the format's edges, and one invalid record per MUST that a reader
/// checks (<see cref="InvalidVectors"/>). Every vector is checked against this build's reader as it is made — a
/// valid one must decode, an invalid one must fail with exactly its error kind — so a generator mistake cannot be
/// committed. Codecs this build does not implement (<see cref="IsAvailable"/>) are left out.
/// </summary>
/// <remarks>Stateless; safe to call from any thread.</remarks>
internal static class VectorGenerator
{
    /// <summary>The model id of every vector but the 255-byte one.</summary>
    public const string ModelId = "kvtier-conformance";

    /// <summary>Whether this build encodes and decodes <paramref name="codec"/> (the ans codec may be absent).</summary>
    public static bool IsAvailable(CodecInfo codec)
    {
        KvLayout layout = SmallLayout(KvElementType.Float32, layers: 1);
        try
        {
            byte[] record = Encode(layout, 1, codec, codec.DefaultLevel, seed: 1);
            ChunkRecord.Parse(record).Decode();
            return true;
        }
        catch (NotSupportedException)
        {
            return false;
        }
    }

    /// <summary>Every vector, valid ones first; the order is the manifest's.</summary>
    public static IReadOnlyList<GeneratedVector> Generate()
    {
        CodecInfo[] codecs = ChunkCodecs.All.Where(IsAvailable).ToArray();
        var vectors = new List<GeneratedVector>();
        AddValid(vectors, codecs);
        InvalidVectors.Add(vectors, codecs);
        return vectors;
    }

    /// <summary>The small layout most vectors use: 2 layers, 2 KV heads × 8, adjacent-pair RoPE over all 8 channels, keys after RoPE.</summary>
    internal static KvLayout SmallLayout(KvElementType type, int layers = 2, int kvHeads = 2, int headDim = 8) =>
        new(layers, kvHeads, headDim, type, new RopeParameters(10000, headDim, RopePairing.AdjacentPairs), keysStoredAfterRope: true);

    /// <summary>A record of synthetic KV, keyed as <c>kvtier encode</c> keys (prefix key of the whole sequence) or by segment key.</summary>
    internal static byte[] Encode(KvLayout layout, int tokens, CodecInfo codec, int level, ulong seed,
        ChunkKeyKind keyKind = ChunkKeyKind.Prefix, int firstPosition = 0, string modelId = ModelId, KvChunk? chunk = null)
    {
        var fingerprint = ModelFingerprint.Compute(modelId, layout);
        int[] ids = SyntheticKv.Tokens(tokens, (int)seed);
        ChunkKey key = keyKind == ChunkKeyKind.Prefix
            ? ChunkFiles.WholeSequenceKey(fingerprint, "", ids)
            : new ChunkKeys(fingerprint, "", tokens).SegmentKey(ids);
        return ChunkRecordWriter.Encode(chunk ?? SyntheticKv.Chunk(layout, tokens, seed), new ChunkRecordMetadata(fingerprint, key, keyKind, firstPosition), codec.Id, level);
    }

    private static void AddValid(List<GeneratedVector> vectors, CodecInfo[] codecs)
    {
        KvElementType[] types = [KvElementType.Float32, KvElementType.Float16, KvElementType.BFloat16];
        ulong seed = 100;

        // Every codec × level × element type on the small layout.
        foreach (CodecInfo codec in codecs)
        {
            for (int level = codec.MinLevel; level <= codec.MaxLevel; level++)
            {
                foreach (KvElementType type in types)
                {
                    string t = LayoutNames.Of(type);
                    vectors.Add(Valid($"valid/{codec.Name}-level{level}-{t}.kvt", Section(codec),
                        $"{codec.Name} level {level}, {t}: small layout (2 layers, 2 KV heads x 8), 16 tokens",
                        Encode(SmallLayout(type), 16, codec, level, seed++)));
                }
            }
        }

        // The format's shapes and edges, once per codec at its default level.
        foreach (CodecInfo codec in codecs)
        {
            int level = codec.DefaultLevel;
            string c = codec.Name;
            vectors.Add(Valid($"valid/partial-7-tokens-{c}.kvt", "§2.1",
                $"{c}, f32: a partial chunk of 7 tokens", Encode(SmallLayout(KvElementType.Float32), 7, codec, level, seed++)));
            vectors.Add(Valid($"valid/single-token-{c}.kvt", "§2.1",
                $"{c}, bf16: a single token", Encode(SmallLayout(KvElementType.BFloat16), 1, codec, level, seed++)));
            vectors.Add(Valid($"valid/segment-key-position-1000-{c}.kvt", "§2.1",
                $"{c}, f16: segment key kind (2), first_position 1000, 12 tokens",
                Encode(SmallLayout(KvElementType.Float16), 12, codec, level, seed++, ChunkKeyKind.Segment, firstPosition: 1000)));
            vectors.Add(Valid($"valid/positions-end-at-2pow31-{c}.kvt", "§2.1",
                $"{c}, f32: first_position 2^31 - 4 with 4 tokens (first_position + token_count = 2^31 exactly)",
                Encode(SmallLayout(KvElementType.Float32), 4, codec, level, seed++, firstPosition: int.MaxValue - 3)));
            var noRope = new KvLayout(3, 2, 8, KvElementType.Float32, RopeParameters.None, keysStoredAfterRope: false);
            vectors.Add(Valid($"valid/no-rope-{c}.kvt", "§2.1",
                $"{c}, f32: no RoPE (rope_pairing 0, theta +0.0, rotary_dims 0, keys_after_rope 0), 3 layers, 9 tokens",
                Encode(noRope, 9, codec, level, seed++)));
            var splitHalf = new KvLayout(2, 2, 8, KvElementType.BFloat16, new RopeParameters(500000, 4, RopePairing.SplitHalves), keysStoredAfterRope: false);
            vectors.Add(Valid($"valid/split-half-partial-rope-{c}.kvt", "§2.1",
                $"{c}, bf16: split-half RoPE, theta 500000, rotary_dims 4 of head_dim 8, keys before RoPE, 10 tokens",
                Encode(splitHalf, 10, codec, level, seed++)));
            var manyLayers = new KvLayout(KvLayout.MaxLayers, 1, 1, KvElementType.Float16, RopeParameters.None, keysStoredAfterRope: false);
            vectors.Add(Valid($"valid/layers-1024-{c}.kvt", "§4",
                $"{c}, f16: the most layers, 1024 (2048 sections), kv_dim 1, no RoPE, 1 token", Encode(manyLayers, 1, codec, level, seed++)));
            vectors.Add(Valid($"valid/model-id-255-bytes-{c}.kvt", "§2.1",
                $"{c}, f32: a model id of 255 UTF-8 bytes (the most), with 2- and 3-byte characters",
                Encode(SmallLayout(KvElementType.Float32), 3, codec, level, seed++, modelId: LongModelId())));
            if (!codec.Lossless)
            {
                var wide = new KvLayout(1, 16, KvLayout.MaxHeadDim, KvElementType.Float16, new RopeParameters(10000, 128, RopePairing.AdjacentPairs), true);
                vectors.Add(Valid($"valid/kv-dim-65536-{c}.kvt", "§4",
                    $"{c}, f16: the widest layout, kv_dim 65536 (16 KV heads x head_dim 4096), 1 layer, 1 token",
                    Encode(wide, 1, codec, level, seed++)));
            }
        }

        // Raw: every kind of finite value an element type holds, bit for bit (no NaN: see README).
        if (codecs.Contains(ChunkCodecs.Raw))
        {
            foreach (KvElementType type in types)
            {
                KvLayout layout = SmallLayout(type);
                string t = LayoutNames.Of(type);
                vectors.Add(Valid($"valid/raw-special-values-{t}.kvt", "§7",
                    $"raw, {t}: signed zeros, subnormals, smallest and largest normals, infinities, 6 tokens",
                    Encode(layout, 6, ChunkCodecs.Raw, 0, seed++, chunk: SpecialValues(layout, 6))));
            }

            // A later version that a v1 reader must read (§6): format_version 2, min_reader_version 1, unused flag
            // bits set, a header 16 bytes longer and 40-byte table entries, both extensions non-zero.
            byte[] v1 = Encode(SmallLayout(KvElementType.Float32), 5, ChunkCodecs.Raw, 0, seed++);
            byte[] v2 = RecordEditor.Rebuild(v1, RecordEditor.Payloads(v1), headerExtension: 16, entrySize: 40);
            RecordEditor.WriteU16(v2, 8, 2);
            RecordEditor.WriteU32(v2, 12, 0xA5C30000);
            vectors.Add(Valid("valid/format-v2-readable-by-v1.kvt", "§6",
                "raw, f32: format_version 2 with min_reader_version 1, unused flag bits 16-31 set, header_size 16 bytes past the model id, "
                + "section_entry_size 40; a v1 reader reads it as v1, skipping what it does not know",
                RecordEditor.SealHeader(v2)));
        }

        // ans: many lanes (§9.2): N = 2 for 8192 elements per section, 32 for 131072.
        if (codecs.Contains(ChunkCodecs.Ans))
        {
            vectors.Add(Valid("valid/ans-2-lanes-bf16.kvt", "§9.2",
                "ans level 1, bf16: 1 layer, 2 KV heads x 8, 512 tokens (8192 elements per section: 2 lanes)",
                Encode(SmallLayout(KvElementType.BFloat16, layers: 1), 512, ChunkCodecs.Ans, 1, seed++)));
            vectors.Add(Valid("valid/ans-32-lanes-f16.kvt", "§9.2",
                "ans level 2, f16: 1 layer, 4 KV heads x 64, 512 tokens (131072 elements per section: 32 lanes)",
                Encode(SmallLayout(KvElementType.Float16, layers: 1, kvHeads: 4, headDim: 64), 512, ChunkCodecs.Ans, 2, seed++)));
            foreach (KvElementType type in types)
            {
                string t = LayoutNames.Of(type);
                vectors.Add(Valid($"valid/ans-handmade-{t}.kvt", "§9", $"ans, {t}: {HandmadeAnsRecords.Description}", HandmadeAnsRecords.Build(type)));
            }

            // §9.5's fallback: values 2^24 times the usual, so that some absmax / B of every section exceeds 65504 and the
            // encoder stores that section's scales as f32 (scale_type 1).
            KvLayout large = SmallLayout(KvElementType.Float32);
            byte[] f32Scales = Encode(large, 16, ChunkCodecs.Ans, 2, seed, chunk: Scaled(SyntheticKv.Chunk(large, 16, seed), 1 << 24));
            seed++;
            if (!AllSections(f32Scales, payload => payload[2] == 1))
                throw new InvalidOperationException("Generator bug: valid/ans-f32-scales-f32.kvt has a section with f16 scales.");
            vectors.Add(Valid("valid/ans-f32-scales-f32.kvt", "§9.5",
                "ans level 2, f32: small layout, 16 tokens, values 2^24 times larger than usual: scales above 65504, so every section stores f32 scales",
                f32Scales));

            // §4's largest token count: 2^20 tokens of a 2-channel layout, one constant value per section, so that the whole
            // record stays small (each symbol costs almost nothing) while a reader still decodes 2^21 elements per section.
            KvLayout narrow = SmallLayout(KvElementType.Float16, layers: 1, kvHeads: 1, headDim: 2);
            var constant = new KvChunk(narrow, ChunkRecordFormat.MaxTokenCount);
            constant.SetSingle(0, SectionKind.Keys, Enumerable.Repeat(0.75f, constant.ElementsPerSection).ToArray());
            constant.SetSingle(0, SectionKind.Values, Enumerable.Repeat(-1.5f, constant.ElementsPerSection).ToArray());
            vectors.Add(Valid("valid/ans-max-token-count.kvt", "§4",
                "ans level 2, f16: 1 layer, 1 KV head x 2, 1048576 tokens (the most a record may hold), every key 0.75 and every value -1.5",
                Encode(narrow, ChunkRecordFormat.MaxTokenCount, ChunkCodecs.Ans, 2, seed++, chunk: constant)));
        }
    }

    /// <summary>The chunk with every value multiplied by <paramref name="factor"/> (a power of two: exact for f32 elements).</summary>
    private static KvChunk Scaled(KvChunk chunk, float factor)
    {
        var values = new float[chunk.ElementsPerSection];
        for (int layer = 0; layer < chunk.Layout.Layers; layer++)
        {
            foreach (SectionKind kind in (ReadOnlySpan<SectionKind>)[SectionKind.Keys, SectionKind.Values])
            {
                chunk.GetSingle(layer, kind, values);
                for (int i = 0; i < values.Length; i++)
                    values[i] *= factor;
                chunk.SetSingle(layer, kind, values);
            }
        }

        return chunk;
    }

    /// <summary>Whether every section payload of the record satisfies <paramref name="rule"/>.</summary>
    private static bool AllSections(byte[] record, Func<byte[], bool> rule)
    {
        ChunkRecord parsed = ChunkRecord.Parse(record);
        for (int layer = 0; layer < parsed.Header.Layout.Layers; layer++)
        {
            if (!rule(parsed.GetPayload(layer, SectionKind.Keys).ToArray()) || !rule(parsed.GetPayload(layer, SectionKind.Values).ToArray()))
                return false;
        }

        return true;
    }

    private static string Section(CodecInfo codec) => codec.Id switch
    {
        CodecId.Raw => "§7",
        CodecId.Q8 => "§8",
        _ => "§9",
    };

    // 255 bytes: ASCII, 2-byte (ü) and 3-byte (€) characters.
    private static string LongModelId()
    {
        const string Head = "org/model-\u00fc\u20ac-";
        int headBytes = System.Text.Encoding.UTF8.GetByteCount(Head);
        return Head + new string('x', ModelFingerprint.MaxModelIdBytes - headBytes);
    }

    private static KvChunk SpecialValues(KvLayout layout, int tokens)
    {
        ushort[] half = [0x0000, 0x8000, 0x0001, 0x8001, 0x03FF, 0x0400, 0x7BFF, 0xFBFF, 0x7C00, 0xFC00, 0x3C00, 0xBC00, 0x3555, 0x0200];
        ushort[] bf16 = [0x0000, 0x8000, 0x0001, 0x8001, 0x007F, 0x0080, 0x7F7F, 0xFF7F, 0x7F80, 0xFF80, 0x3F80, 0xBF80, 0x3EAB, 0x0040];
        uint[] single = [0x00000000, 0x80000000, 0x00000001, 0x80000001, 0x007FFFFF, 0x00800000, 0x7F7FFFFF, 0xFF7FFFFF, 0x7F800000, 0xFF800000, 0x3F800000, 0xBF800000, 0x3EAAAAAB, 0x00400000];
        var chunk = new KvChunk(layout, tokens);
        for (int j = 0; j < 2 * layout.Layers; j++)
        {
            Span<byte> section = chunk.Section(j / 2, (SectionKind)(j % 2));
            int count = chunk.ElementsPerSection;
            for (int i = 0; i < count; i++)
            {
                int pick = (i + 5 * j) % single.Length;
                switch (layout.ElementType)
                {
                    case KvElementType.Float32: System.Buffers.Binary.BinaryPrimitives.WriteUInt32LittleEndian(section[(4 * i)..], single[pick]); break;
                    case KvElementType.Float16: System.Buffers.Binary.BinaryPrimitives.WriteUInt16LittleEndian(section[(2 * i)..], half[pick]); break;
                    default: System.Buffers.Binary.BinaryPrimitives.WriteUInt16LittleEndian(section[(2 * i)..], bf16[pick]); break;
                }
            }
        }

        return chunk;
    }

    /// <summary>A valid vector, after checking that this build decodes it.</summary>
    private static GeneratedVector Valid(string file, string section, string description, byte[] bytes)
    {
        KvChunk decoded;
        ChunkRecordHeader header;
        try
        {
            ChunkRecord record = ChunkRecord.Parse(bytes, file);
            decoded = record.Decode();
            header = record.Header;
        }
        catch (ChunkRecordException e)
        {
            throw new InvalidOperationException($"Generator bug: valid vector {file} does not decode: {e.Message}", e);
        }

        KvLayout layout = header.Layout;
        var expect = new VectorExpectation(VectorExpectation.DecodeOutcome,
            DecodedSha256: ConformanceHash.DecodedSha256(decoded),
            ElementsSha256: ConformanceHash.ElementsSha256(decoded),
            Codec: ChunkCodecs.Get(header.Codec).Name,
            Level: header.Level,
            ElementType: LayoutNames.Of(layout.ElementType),
            Layers: layout.Layers,
            KvDim: layout.KvDim,
            Tokens: header.TokenCount);
        return new GeneratedVector(new ConformanceVector(file, ConformanceHash.Sha256(bytes), section, description, expect), bytes);
    }

    /// <summary>An invalid vector, after checking that this build rejects it with exactly <paramref name="kind"/>.</summary>
    internal static GeneratedVector Invalid(string file, string section, ChunkRecordErrorKind kind, string description, byte[] bytes)
    {
        try
        {
            ChunkRecord.Parse(bytes, file).Decode();
        }
        catch (ChunkRecordException e) when (e.Kind == kind)
        {
            return new GeneratedVector(new ConformanceVector(file, ConformanceHash.Sha256(bytes), section, description, VectorExpectation.Reject(kind)), bytes);
        }
        catch (ChunkRecordException e)
        {
            throw new InvalidOperationException($"Generator bug: invalid vector {file} is rejected as {e.Kind}, not {kind}: {e.Message}", e);
        }

        throw new InvalidOperationException($"Generator bug: invalid vector {file} decodes; it should be rejected as {kind}.");
    }
}
