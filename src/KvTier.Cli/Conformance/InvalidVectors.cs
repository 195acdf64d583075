using System.Buffers.Binary;
using KvTier.Format;
using KvTier.Format.Codecs;
using KvTier.Layout;
using static KvTier.Cli.Conformance.RecordEditor;
using Kind = KvTier.Format.ChunkRecordErrorKind;

namespace KvTier.Cli.Conformance;

/// <summary>
/// One invalid record per MUST that a reader checks (format-spec/kvtier-format.md §5), each made from a valid
/// record by one edit, with checksums and fingerprint re-sealed wherever the targeted check comes after them, so
/// that the check a vector names is the one that fires.
/// </summary>
/// <remarks>Stateless; safe to call from any thread.</remarks>
internal static class InvalidVectors
{
    private const int Tokens = 5;

    /// <summary>Adds the invalid vectors for the codecs this build has.</summary>
    public static void Add(List<GeneratedVector> vectors, IReadOnlyCollection<CodecInfo> codecs)
    {
        AddHeader(vectors);
        AddSectionTable(vectors);
        AddPayload(vectors);
        if (codecs.Contains(ChunkCodecs.Q8))
            AddQ8(vectors);
        if (codecs.Contains(ChunkCodecs.Ans))
            AddAns(vectors);
    }

    // The base of most invalid vectors: raw, f32, 2 layers of 2 KV heads × 8, 5 tokens (4 sections).
    private static byte[] Raw() => VectorGenerator.Encode(VectorGenerator.SmallLayout(KvElementType.Float32), Tokens, ChunkCodecs.Raw, 0, seed: 1);

    // A no-RoPE base: raw, f32, 2 layers of 2 KV heads × 8, 5 tokens, rope_pairing 0.
    private static byte[] NoRope() =>
        VectorGenerator.Encode(new KvLayout(2, 2, 8, KvElementType.Float32, RopeParameters.None, keysStoredAfterRope: false), Tokens, ChunkCodecs.Raw, 0, seed: 6);

    private static GeneratedVector V(string name, string section, Kind kind, string description, byte[] bytes) =>
        VectorGenerator.Invalid($"invalid/{name}.kvt", section, kind, description, bytes);

    private static void AddHeader(List<GeneratedVector> v)
    {
        byte[] r;
        v.Add(V("empty", "§5", Kind.Truncated, "an empty file", []));
        v.Add(V("truncated-header", "§5", Kind.Truncated, "the first 100 bytes of a record: shorter than the 160-byte fixed header", Raw()[..100]));
        r = Raw(); r[1] = (byte)'X';
        v.Add(V("bad-magic", "§2.1", Kind.BadMagic, "the magic's second byte is 'X'", SealHeader(r)));
        r = Raw(); WriteU16(r, 8, 2); WriteU16(r, 10, 2);
        v.Add(V("needs-reader-version-2", "§6", Kind.UnsupportedVersion, "format_version 2, min_reader_version 2: a v1 reader must refuse", SealHeader(r)));
        r = Raw(); WriteU16(r, 8, 0); WriteU16(r, 10, 0);
        v.Add(V("format-version-0", "§5", Kind.UnsupportedVersion, "format_version 0 (and min_reader_version 0)", SealHeader(r)));
        r = Raw(); WriteU16(r, 8, 0);
        v.Add(V("format-version-below-min-reader", "§5", Kind.UnsupportedVersion, "format_version 0 < min_reader_version 1", SealHeader(r)));
        r = Raw(); WriteU32(r, 12, 0x0001);
        v.Add(V("reserved-flag-bit-0", "§2.1", Kind.ReservedBits, "flag bit 0 (reserved) set", SealHeader(r)));
        r = Raw(); WriteU32(r, 12, 0x8000);
        v.Add(V("reserved-flag-bit-15", "§2.1", Kind.ReservedBits, "flag bit 15 (reserved) set", SealHeader(r)));
        r = Raw(); r[138] = 1;
        v.Add(V("reserved-header-byte-138", "§2.1", Kind.ReservedBits, "the first reserved header byte (offset 138) is 1", SealHeader(r)));
        r = Raw(); r[151] = 0x80;
        v.Add(V("reserved-header-byte-151", "§2.1", Kind.ReservedBits, "the last reserved header byte (offset 151) is 0x80", SealHeader(r)));
        r = Raw(); r[64] ^= 1;
        v.Add(V("header-checksum-key-bit", "§3", Kind.HeaderChecksum, "one bit of chunk_key flipped, header checksum not updated", r));
        r = Raw(); r[EntryOffset(r, 3) + 16] ^= 0x10;
        v.Add(V("header-checksum-table-bit", "§3", Kind.HeaderChecksum, "one bit of a section table entry flipped (the table is under the header checksum)", r));
        r = Raw(); WriteU64(r, 152, BinaryPrimitives.ReadUInt64LittleEndian(r.AsSpan(152)) + 1);
        v.Add(V("header-checksum-wrong", "§3", Kind.HeaderChecksum, "header_checksum off by one", r));
        r = Raw();
        v.Add(V("truncated-table", "§5", Kind.Truncated, "the record cut in the middle of section table entry 2", r[..(EntryOffset(r, 2) + 5)]));
        v.Add(V("truncated-payload", "§5", Kind.Truncated, "the record without its last byte", Raw()[..^1]));
        v.Add(V("trailing-bytes", "§5", Kind.BadHeader, "one zero byte after record_length (a single-record reader rejects it)", [.. Raw(), 0]));

        // Header fields out of range (§2.1, §4).
        Field(v, "layers-zero", "layers 0", r => WriteU32(r, 24, 0));
        Field(v, "layers-over-1024", "layers 1025 (section_count still 4)", r => WriteU32(r, 24, 1025));
        Field(v, "layers-absurd", "layers 2^32 - 1", r => WriteU32(r, 24, uint.MaxValue));
        Field(v, "kv-heads-zero", "kv_heads 0", r => WriteU32(r, 28, 0));
        Field(v, "kv-heads-over-1024", "kv_heads 1025", r => WriteU32(r, 28, 1025));
        Field(v, "head-dim-zero", "head_dim 0", r => WriteU32(r, 32, 0));
        Field(v, "head-dim-over-4096", "head_dim 4097", r => WriteU32(r, 32, 4097));
        Field(v, "head-dim-absurd", "head_dim 2^30", r => WriteU32(r, 32, 1u << 30));
        Field(v, "kv-dim-over-65536", "kv_heads 32 x head_dim 4096 = 131072 > 65536", r => WriteU32(r, 32, 4096), refingerprint: false, setup: r => WriteU32(r, 28, 32));
        Field(v, "element-type-zero", "element_type 0", r => r[36] = 0);
        Field(v, "element-type-unknown", "element_type 4", r => r[36] = 4);
        Field(v, "rope-pairing-unknown", "rope_pairing 3", r => r[37] = 3);
        Field(v, "keys-after-rope-2", "keys_after_rope 2", r => r[38] = 2);
        Field(v, "keys-after-rope-without-rope", "rope_pairing 0 (theta 0, rotary_dims 0) with keys_after_rope 1",
            r => { r[37] = 0; WriteU64(r, 40, 0); WriteU32(r, 48, 0); });
        Field(v, "rope-theta-zero", "rope_theta +0.0 with adjacent-pair RoPE", r => WriteU64(r, 40, 0));
        Field(v, "rope-theta-nan", "rope_theta NaN", r => WriteU64(r, 40, 0x7FF8000000000000));
        Field(v, "rope-theta-infinite", "rope_theta +infinity", r => WriteU64(r, 40, 0x7FF0000000000000));
        Field(v, "rotary-dims-odd", "rotary_dims 7", r => WriteU32(r, 48, 7));
        Field(v, "rotary-dims-over-head-dim", "rotary_dims 10 > head_dim 8", r => WriteU32(r, 48, 10));
        Field(v, "no-rope-with-rotary-dims", "rope_pairing 0 with rotary_dims 8", r => r[37] = 0);
        r = NoRope(); WriteU64(r, 40, 0x8000000000000000);
        v.Add(V("no-rope-theta-negative-zero", "§2.1", Kind.BadHeader, "rope_pairing 0 with rope_theta -0.0 (only +0.0, all bits zero, is valid)", SealHeader(r)));
        Field(v, "key-kind-zero", "key_kind 0", r => r[39] = 0);
        Field(v, "key-kind-unknown", "key_kind 3", r => r[39] = 3);
        Field(v, "token-count-zero", "token_count 0", r => WriteU32(r, 52, 0));
        Field(v, "token-count-over-2pow20", "token_count 2^20 + 1", r => WriteU32(r, 52, (1u << 20) + 1));
        Field(v, "section-elements-over-2pow27", "token_count 2^19 + 1 with kv_dim 256 (head_dim 128): more than 2^27 elements per section; fingerprint matches the layout",
            r => { WriteU32(r, 32, 128); WriteU32(r, 48, 128); WriteU32(r, 52, (1u << 19) + 1); }, refingerprint: true);
        Field(v, "positions-past-2pow31", "first_position 2^31 - 4 with 5 tokens: first_position + token_count > 2^31", r => WriteU32(r, 56, (1u << 31) - 4));
        Field(v, "section-count-mismatch", "section_count 3 with 2 layers", r => WriteU32(r, 60, 3));
        Field(v, "model-id-length-zero", "model_id_length 0", r => WriteU16(r, 136, 0));
        Field(v, "model-id-length-256", "model_id_length 256", r => WriteU16(r, 136, 256));
        Field(v, "model-id-invalid-utf8", "model id byte 0 is 0xFF (never valid UTF-8)", r => r[160] = 0xFF);
        Field(v, "model-id-overlong-utf8", "model id starts with C0 AF, an overlong encoding of '/'", r => { r[160] = 0xC0; r[161] = 0xAF; });
        Field(v, "fingerprint-mismatch", "one bit of the fingerprint flipped", r => r[100] ^= 0x40);
        Field(v, "fingerprint-of-other-layout", "the fingerprint of the same model id with head_dim 16", r =>
        {
            var other = new KvLayout(2, 2, 16, KvElementType.Float32, new RopeParameters(10000, 8, RopePairing.AdjacentPairs), true);
            KvTier.Keys.ModelFingerprint.Compute(VectorGenerator.ModelId, other).Digest.CopyTo(r.AsSpan(96));
        });
        Field(v, "record-length-past-2pow40", "record_length 2^40 + 64", r => WriteU64(r, 128, (1UL << 40) + 64));
        Field(v, "record-length-before-payloads", "record_length 64, less than pad64(table_end)", r => WriteU64(r, 128, 64));

        // 1024 layers x 2048 tokens x kv_dim 65536 (all within the field limits) decode to 2^40 bytes as binary32:
        // above any reader's decode limit (§5), which is checked before the section table.
        r = VectorGenerator.Encode(new KvLayout(KvLayout.MaxLayers, 1, 1, KvElementType.Float16, RopeParameters.None, false), 1, ChunkCodecs.Raw, 0, seed: 5);
        WriteU32(r, 28, 16); WriteU32(r, 32, 4096); WriteU32(r, 52, 2048);
        v.Add(V("decoded-size-1tib", "§5", Kind.TooLarge,
            "1024 layers, 16 KV heads x 4096, 2048 tokens: every field within its limit, but the record decodes to 2^40 bytes as binary32, over any reader's decode limit",
            Refingerprint(r)));

        r = Raw(); WriteU32(r, 16, (uint)HeaderSize(r) + 8);
        v.Add(V("header-size-wrong", "§6", Kind.BadHeader, "header_size 8 more than 160 + pad8(model_id_length) with format_version 1 (header checksum sealed over the table it implies)", SealHeader(r)));
        r = Raw(); WriteU16(r, 20, 40);
        v.Add(V("entry-size-wrong", "§6", Kind.BadHeader, "section_entry_size 40 with format_version 1 (header checksum sealed over the table it implies)", SealHeader(r)));
        r = Raw(); r[22] = 3;
        v.Add(V("codec-unknown", "§2.1", Kind.UnknownCodec, "codec 3", SealHeader(r)));
        r = Raw(); r[22] = 255;
        v.Add(V("codec-255", "§2.1", Kind.UnknownCodec, "codec 255", SealHeader(r)));
        r = Raw(); r[23] = 1;
        v.Add(V("level-unknown-raw", "§2.1", Kind.UnknownCodec, "raw with level 1 (raw has only level 0)", SealHeader(r)));
        r = Raw(); r[22] = 1; r[23] = 1;
        v.Add(V("level-unknown-q8", "§2.1", Kind.UnknownCodec, "q8 with level 1 (q8 has only level 0)", SealHeader(r)));
        r = Raw(); r[22] = 2; r[23] = 0;
        v.Add(V("level-unknown-ans-0", "§2.1", Kind.UnknownCodec, "ans with level 0 (ans has levels 1 to 4)", SealHeader(r)));
        r = Raw(); r[22] = 2; r[23] = 5;
        v.Add(V("level-unknown-ans-5", "§2.1", Kind.UnknownCodec, "ans with level 5 (ans has levels 1 to 4)", SealHeader(r)));
    }

    // A header field outside its range, with the header checksum (and, for a valid layout, the fingerprint) re-sealed.
    private static void Field(List<GeneratedVector> v, string name, string description, Action<byte[]> edit, bool refingerprint = false, Action<byte[]>? setup = null)
    {
        byte[] r = Raw();
        setup?.Invoke(r);
        edit(r);
        v.Add(V(name, "§2.1", Kind.BadHeader, description, refingerprint ? Refingerprint(r) : SealHeader(r)));
    }

    private static void AddSectionTable(List<GeneratedVector> v)
    {
        byte[] r;
        r = Raw(); r[EntryOffset(r, 1) + 27] = 1;
        v.Add(V("reserved-entry-byte-27", "§2.2", Kind.ReservedBits, "section 1's first reserved byte (entry offset 27) is 1", SealHeader(r)));
        r = Raw(); r[EntryOffset(r, 3) + 31] = 0x80;
        v.Add(V("reserved-entry-byte-31", "§2.2", Kind.ReservedBits, "section 3's last reserved byte (entry offset 31) is 0x80", SealHeader(r)));
        r = Raw(); WriteU64(r, EntryOffset(r, 1), (ulong)SectionOffset(r, 1) + 8);
        v.Add(V("section-misaligned", "§2.2", Kind.BadSectionTable, "section 1's offset is 8 past a multiple of 64", SealHeader(r)));
        r = Raw(); WriteU64(r, EntryOffset(r, 1), (ulong)SectionOffset(r, 0));
        v.Add(V("section-overlaps-previous", "§2.2", Kind.BadSectionTable, "section 1 starts where section 0 starts", SealHeader(r)));
        r = Raw(); WriteU64(r, EntryOffset(r, 0), 0);
        v.Add(V("section-inside-header", "§2.2", Kind.BadSectionTable, "section 0 at offset 0, before pad64(table_end)", SealHeader(r)));
        r = Raw(); WriteU64(r, EntryOffset(r, 3), (ulong)SectionOffset(r, 3) + 64);
        v.Add(V("section-offset-past-end", "§2.2", Kind.BadSectionTable, "the last section moved 64 bytes on: it runs past record_length", SealHeader(r)));
        r = Raw(); WriteU64(r, EntryOffset(r, 3), ulong.MaxValue - 63);
        v.Add(V("section-offset-absurd", "§2.2", Kind.BadSectionTable, "the last section's offset is 2^64 - 64 (offset + length overflows 64 bits)", SealHeader(r)));
        r = Raw(); WriteU16(r, EntryOffset(r, 2) + 24, 0);
        v.Add(V("section-layer-mislabelled", "§2.2", Kind.BadSectionTable, "section 2 says layer 0 (it is layer 1)", SealHeader(r)));
        r = Raw(); r[EntryOffset(r, 2) + 26] = 1;
        v.Add(V("section-kind-mislabelled", "§2.2", Kind.BadSectionTable, "section 2 says V (kind 1; it is K)", SealHeader(r)));
        r = Raw(); r[EntryOffset(r, 1) + 26] = 2;
        v.Add(V("section-kind-unknown", "§2.2", Kind.BadSectionTable, "section 1 has kind 2", SealHeader(r)));
        r = [.. Raw(), 0, 0, 0, 0]; WriteU64(r, 128, (ulong)r.Length);
        v.Add(V("last-section-short-of-end", "§2.2", Kind.BadSectionTable, "4 zero bytes after the last section, counted in record_length: the last section ends 4 bytes before it", SealHeader(r)));
    }

    private static void AddPayload(List<GeneratedVector> v)
    {
        byte[] r = Raw(); r[SectionOffset(r, 2) + 7] ^= 0x20;
        v.Add(V("section-checksum", "§3", Kind.SectionChecksum, "one bit of section 2's payload flipped, its checksum not updated", r));
        r = Raw(); WriteU64(r, EntryOffset(r, 3) + 16, BinaryPrimitives.ReadUInt64LittleEndian(r.AsSpan(EntryOffset(r, 3) + 16)) ^ 1);
        v.Add(V("section-checksum-field", "§3", Kind.SectionChecksum, "section 3's checksum field off by one bit (header checksum re-sealed)", SealHeader(r)));
        r = Raw();
        v.Add(V("raw-payload-short", "§7", Kind.BadPayload, "raw section 0 is 4 bytes shorter than token_count x kv_dim x 4",
            ReplacePayload(r, 0, Payload(r, 0)[..^4].ToArray())));
        r = Raw();
        v.Add(V("raw-payload-long", "§7", Kind.BadPayload, "raw section 0 is 4 bytes longer than token_count x kv_dim x 4",
            ReplacePayload(r, 0, [.. Payload(r, 0), 1, 2, 3, 4])));
        r = VectorGenerator.Encode(VectorGenerator.SmallLayout(KvElementType.Float16), Tokens, ChunkCodecs.Raw, 0, seed: 2);
        v.Add(V("raw-payload-odd-length-f16", "§7", Kind.BadPayload, "raw f16 section 1 is 1 byte short: not a whole number of elements",
            ReplacePayload(r, 1, Payload(r, 1)[..^1].ToArray())));
    }

    private static void AddQ8(List<GeneratedVector> v)
    {
        static byte[] Q8() => VectorGenerator.Encode(VectorGenerator.SmallLayout(KvElementType.Float32), Tokens, ChunkCodecs.Q8, 0, seed: 3);
        const int ScaleBytes = 4 * Tokens * 2; // one f32 per token and head
        byte[] r = Q8(); Payload(r, 1)[ScaleBytes + 3] = 0x80;
        v.Add(V("q8-value-minus-128", "§8", Kind.BadPayload, "a quantized value of section 1 is -128", SealSection(r, 1)));
        r = Q8(); BinaryPrimitives.WriteSingleLittleEndian(Payload(r, 0), -1f);
        v.Add(V("q8-scale-negative", "§8", Kind.BadPayload, "section 0's first scale is -1", SealSection(r, 0)));
        r = Q8(); BinaryPrimitives.WriteSingleLittleEndian(Payload(r, 2)[8..], float.NaN);
        v.Add(V("q8-scale-nan", "§8", Kind.BadPayload, "section 2's third scale is NaN", SealSection(r, 2)));
        r = Q8(); BinaryPrimitives.WriteSingleLittleEndian(Payload(r, 3)[4..], float.PositiveInfinity);
        v.Add(V("q8-scale-infinite", "§8", Kind.BadPayload, "section 3's second scale is +infinity", SealSection(r, 3)));
        r = Q8();
        v.Add(V("q8-payload-short", "§8", Kind.BadPayload, "q8 section 0 is 1 byte shorter than 4 x token_count x kv_heads + token_count x kv_dim",
            ReplacePayload(r, 0, Payload(r, 0)[..^1].ToArray())));
    }

    private static void AddAns(List<GeneratedVector> v)
    {
        // 1 layer, 2 KV heads × 8, 512 tokens, f16: 8192 elements per section, so 2 lanes. KvTier's encoder writes both
        // sections with per-channel f16 scales (level 2, §9.5); per-token scales come from the handmade record below.
        KvLayout layout = VectorGenerator.SmallLayout(KvElementType.Float16, layers: 1);
        const int AnsTokens = 512;
        byte[] Ans() => VectorGenerator.Encode(layout, AnsTokens, ChunkCodecs.Ans, 2, seed: 4);
        AnsFields f = AnsFields.Of(Payload(Ans(), 0), layout, AnsTokens);
        AnsFields values = AnsFields.Of(Payload(Ans(), 1), layout, AnsTokens);
        if (f.ScaleAxis != 1 || f.ScaleType != 2 || values.ScaleAxis != 1 || values.ScaleType != 2)
            throw new InvalidOperationException("Generator bug: the ans base record no longer has per-channel f16 K and V scales.");

        void Edit(string name, string section, string description, Action<Span<byte>> edit, int target = 0)
        {
            byte[] r = Ans();
            edit(Payload(r, target));
            v.Add(V(name, section, Kind.BadPayload, description, SealSection(r, target)));
        }

        void Replace(string name, string section, string description, Func<byte[], byte[]> edit)
        {
            byte[] r = Ans();
            v.Add(V(name, section, Kind.BadPayload, description, ReplacePayload(r, 0, edit(Payload(r, 0).ToArray()))));
        }

        Edit("ans-layout-version-0", "§9.1", "ans section 0: layout_version 0", p => p[0] = 0);
        Edit("ans-layout-version-2", "§9.1", "ans section 0: layout_version 2", p => p[0] = 2);
        Edit("ans-scale-axis-0", "§9.1", "ans section 0: scale_axis 0", p => p[1] = 0);
        Edit("ans-scale-axis-4", "§9.1", "ans section 0: scale_axis 4", p => p[1] = 4);
        Edit("ans-scale-axis-3-length-mismatch", "§9.1",
            "ans section 0 (16 per-channel f16 scales) relabelled scale_axis 3, which has token_count = 512 scales: the length disagrees with the fields",
            p => p[1] = 3);
        Edit("ans-scale-type-0", "§9.1", "ans section 0: scale_type 0", p => p[2] = 0);
        Edit("ans-scale-type-3", "§9.1", "ans section 0: scale_type 3", p => p[2] = 3);
        Edit("ans-prediction-2", "§9.1", "ans section 0: prediction 2", p => p[3] = 2);
        Edit("ans-bound-0", "§9.1", "ans section 0: bound B = 0", p => p[4] = 0);
        Edit("ans-bound-128", "§9.1", "ans section 0: bound B = 128", p => p[4] = 128);
        Edit("ans-bound-64-with-prediction", "§9.1", "ans section 0: prediction 1 with bound B = 64 (prediction allows B ≤ 63)", p =>
        {
            p[3] = 1;
            p[4] = 64;
        });
        Edit("ans-reserved-byte-5", "§9.1", "ans section 0: reserved byte 5 is 1", p => p[5] = 1);
        Edit("ans-reserved-byte-10", "§9.1", "ans section 0: reserved byte 10 is 1", p => p[10] = 1);
        Edit("ans-reserved-byte-11", "§9.1", "ans section 0: reserved byte 11 is 0x80", p => p[11] = 0x80);
        Edit("ans-lanes-0", "§9.1", "ans section 0: lanes N = 0", p => BinaryPrimitives.WriteUInt16LittleEndian(p[6..], 0));
        Edit("ans-lanes-1025", "§9.1", "ans section 0: lanes N = 1025", p => BinaryPrimitives.WriteUInt16LittleEndian(p[6..], 1025));
        Edit("ans-table-groups-0", "§9.1", "ans section 0: table_groups G = 0", p => BinaryPrimitives.WriteUInt16LittleEndian(p[8..], 0));
        Edit("ans-table-groups-not-dividing", "§9.1", "ans section 0: table_groups G = 3, which does not divide kv_dim 16", p => BinaryPrimitives.WriteUInt16LittleEndian(p[8..], 3));
        Edit("ans-scale-f16-negative", "§9.1", "ans section 0: the first f16 scale is -1 (0xBC00)", p => BinaryPrimitives.WriteUInt16LittleEndian(p[12..], 0xBC00));
        Edit("ans-scale-f16-nan", "§9.1", "ans section 0: the first f16 scale is NaN (0x7E00)", p => BinaryPrimitives.WriteUInt16LittleEndian(p[12..], 0x7E00));
        Edit("ans-scale-f16-infinite", "§9.1", "ans section 0: the third f16 scale is +infinity (0x7C00)", p => BinaryPrimitives.WriteUInt16LittleEndian(p[16..], 0x7C00));
        // Per-token scales: section 2 of the handmade record (scale_axis 3, f32, 24 tokens).
        void EditPerToken(string name, string description, Action<Span<byte>> edit)
        {
            byte[] r = HandmadeAnsRecords.Build(KvElementType.Float32);
            edit(Payload(r, 2));
            v.Add(V(name, "§9.1", Kind.BadPayload, description, SealSection(r, 2)));
        }

        EditPerToken("ans-per-token-scale-f32-infinite", "handmade record, section 2 (scale_axis 3, one f32 scale per token): token 7's scale is +infinity",
            p => BinaryPrimitives.WriteSingleLittleEndian(p[(12 + 4 * 7)..], float.PositiveInfinity));
        EditPerToken("ans-per-token-scale-f32-negative-subnormal", "handmade record, section 2 (scale_axis 3, one f32 scale per token): the last token's scale is the negative subnormal 0x80000001",
            p => BinaryPrimitives.WriteUInt32LittleEndian(p[(12 + 4 * 23)..], 0x80000001));
        Replace("ans-scale-f32-negative", "§9.1", "ans section 0 rewritten with its scales as f32 (scale_type 1), the first scale -1", p =>
        {
            byte[] widened = WidenScales(p, f);
            BinaryPrimitives.WriteSingleLittleEndian(widened.AsSpan(12), -1f);
            return widened;
        });
        Replace("ans-scale-f32-nan", "§9.1", "ans section 0 rewritten with its scales as f32 (scale_type 1), the first scale NaN", p =>
        {
            byte[] widened = WidenScales(p, f);
            BinaryPrimitives.WriteSingleLittleEndian(widened.AsSpan(12), float.NaN);
            return widened;
        });
        Replace("ans-scale-f32-infinite", "§9.1", "ans section 0 rewritten with its scales as f32 (scale_type 1), the second scale +infinity", p =>
        {
            byte[] widened = WidenScales(p, f);
            BinaryPrimitives.WriteSingleLittleEndian(widened.AsSpan(16), float.PositiveInfinity);
            return widened;
        });
        Edit("ans-table-sum-4097", "§9.1", "ans section 0: the first frequency table sums to 4097 (its first entry + 1)",
            p => BinaryPrimitives.WriteUInt16LittleEndian(p[f.Tables..], (ushort)(BinaryPrimitives.ReadUInt16LittleEndian(p[f.Tables..]) + 1)));
        Edit("ans-lane-state-below-2pow16", "§9.1", "ans section 0: lane 0's state is 0xFFFF, below 2^16",
            p => BinaryPrimitives.WriteUInt32LittleEndian(p[f.LaneHeaders..], 0xFFFF));
        v.Add(V("ans-lane-final-state", "§9.2", Kind.BadPayload,
            "the handmade ans record (valid/ans-handmade-f32.kvt) with layer 0 K encoded from state 2^16 + 1: every symbol decodes, but each lane ends in state 2^16 + 1",
            HandmadeAnsRecords.Build(KvElementType.Float32, finalStateOffByOne: true)));
        v.Add(V("ans-prediction-out-of-bound", "§9.3", Kind.BadPayload,
            "the handmade ans record (valid/ans-handmade-f32.kvt) with layer 0 K's q at token 1, channel 0 reaching B + 1 = 8 through prediction",
            HandmadeAnsRecords.Build(KvElementType.Float32, leaveBound: true)));
        Edit("ans-word-count-mismatch", "§9.1", "ans section 0: lane 0's word_count one more than its words (the length disagrees with the fields)",
            p => BinaryPrimitives.WriteUInt32LittleEndian(p[(f.LaneHeaders + 4)..], BinaryPrimitives.ReadUInt32LittleEndian(p[(f.LaneHeaders + 4)..]) + 1));
        Replace("ans-lane-words-missing", "§9.2", "ans section 0: lane 0's last word removed and its word_count reduced to match: the lane runs out of words or ends in the wrong state",
            p =>
            {
                int words = (int)BinaryPrimitives.ReadUInt32LittleEndian(p.AsSpan(f.LaneHeaders + 4));
                BinaryPrimitives.WriteUInt32LittleEndian(p.AsSpan(f.LaneHeaders + 4), (uint)(words - 1));
                int cut = f.Streams + 2 * (words - 1);
                return [.. p.AsSpan(0, cut), .. p.AsSpan(cut + 2)];
            });
        Replace("ans-trailing-bytes", "§9.1", "ans section 0: two bytes (one word) after the last lane's stream", p => [.. p, 0x34, 0x12]);
    }

    /// <summary>A valid payload with f16 scales rewritten with the same scales as f32 (scale_type 1): each widened exactly (§9.1).</summary>
    private static byte[] WidenScales(byte[] p, AnsFields f)
    {
        int count = (f.Tables - 12) / 2;
        var widened = new byte[p.Length + 2 * count];
        p.AsSpan(0, 12).CopyTo(widened);
        widened[2] = 1;
        for (int k = 0; k < count; k++)
            BinaryPrimitives.WriteSingleLittleEndian(widened.AsSpan(12 + 4 * k), (float)BinaryPrimitives.ReadHalfLittleEndian(p.AsSpan(12 + 2 * k)));
        p.AsSpan(f.Tables).CopyTo(widened.AsSpan(12 + 4 * count));
        return widened;
    }

    /// <summary>The fields that place the parts of an ans payload, and where those parts start (§9.1), read from its own fields.</summary>
    private readonly record struct AnsFields(int ScaleAxis, int ScaleType, int Tables, int LaneHeaders, int Streams)
    {
        public static AnsFields Of(ReadOnlySpan<byte> p, KvLayout layout, int tokens)
        {
            int scales = p[1] switch { 1 => layout.KvDim, 2 => tokens * layout.KvHeads, _ => tokens };
            int scaleSize = p[2] == 2 ? 2 : 4;
            int bound = p[4];
            int alphabet = p[3] == 0 ? 2 * bound + 1 : 4 * bound + 1;
            int lanes = BinaryPrimitives.ReadUInt16LittleEndian(p[6..]);
            int groups = BinaryPrimitives.ReadUInt16LittleEndian(p[8..]);
            int tables = 12 + scaleSize * scales;
            int laneHeaders = tables + 2 * alphabet * groups;
            return new AnsFields(p[1], p[2], tables, laneHeaders, laneHeaders + 8 * lanes);
        }
    }
}
