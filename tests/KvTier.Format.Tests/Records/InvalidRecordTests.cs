using System.Buffers.Binary;
using KvTier.Format;
using KvTier.Format.Codecs;
using KvTier.Layout;
using Xunit;

namespace KvTier.Format.Tests.Records;

/// <summary>Every MUST of format-spec/kvtier-format.md §2–§8 that a reader checks gives its typed error, never a partial result.</summary>
public sealed class InvalidRecordTests
{
    private static byte[] Valid(CodecId codec = CodecId.Raw, KvElementType type = KvElementType.Float32)
    {
        KvLayout layout = TestChunks.Layout(type);
        return ChunkRecordWriter.Encode(TestChunks.Chunk(layout, 5), TestChunks.Metadata(layout), codec, 0);
    }

    private static ChunkRecordErrorKind KindOf(byte[] record, bool decode = true)
    {
        var e = Assert.Throws<ChunkRecordException>(() =>
        {
            ChunkRecord parsed = ChunkRecord.Parse(record, "bad.kvt");
            if (decode)
                parsed.Decode();
        });
        Assert.Equal("bad.kvt", e.SourceName);
        return e.Kind;
    }

    public static TheoryData<string, ChunkRecordErrorKind> Cases() => new()
    {
        { "empty", ChunkRecordErrorKind.Truncated },
        { "shorter than the fixed header", ChunkRecordErrorKind.Truncated },
        { "bad magic", ChunkRecordErrorKind.BadMagic },
        { "needs reader version 2", ChunkRecordErrorKind.UnsupportedVersion },
        { "format version 0", ChunkRecordErrorKind.UnsupportedVersion },
        { "reserved flag bit", ChunkRecordErrorKind.ReservedBits },
        { "reserved header byte", ChunkRecordErrorKind.ReservedBits },
        { "reserved entry byte", ChunkRecordErrorKind.ReservedBits },
        { "header checksum", ChunkRecordErrorKind.HeaderChecksum },
        { "truncated table", ChunkRecordErrorKind.Truncated },
        { "truncated payload", ChunkRecordErrorKind.Truncated },
        { "trailing bytes", ChunkRecordErrorKind.BadHeader },
        { "zero layers", ChunkRecordErrorKind.BadHeader },
        { "absurd layers", ChunkRecordErrorKind.BadHeader },
        { "absurd head dim", ChunkRecordErrorKind.BadHeader },
        { "absurd token count", ChunkRecordErrorKind.BadHeader },
        { "section count not 2 x layers", ChunkRecordErrorKind.BadHeader },
        { "wrong header size", ChunkRecordErrorKind.BadHeader },
        { "wrong entry size", ChunkRecordErrorKind.BadHeader },
        { "unknown element type", ChunkRecordErrorKind.BadHeader },
        { "unknown key kind", ChunkRecordErrorKind.BadHeader },
        { "invalid utf-8 model id", ChunkRecordErrorKind.BadHeader },
        { "fingerprint mismatch", ChunkRecordErrorKind.BadHeader },
        { "record length past 2^40", ChunkRecordErrorKind.BadHeader },
        { "misaligned section", ChunkRecordErrorKind.BadSectionTable },
        { "overlapping sections", ChunkRecordErrorKind.BadSectionTable },
        { "section past the end", ChunkRecordErrorKind.BadSectionTable },
        { "mislabelled section", ChunkRecordErrorKind.BadSectionTable },
        { "unknown codec", ChunkRecordErrorKind.UnknownCodec },
        { "unknown level", ChunkRecordErrorKind.UnknownCodec },
        { "section checksum", ChunkRecordErrorKind.SectionChecksum },
        { "raw payload of the wrong length", ChunkRecordErrorKind.BadPayload },
        { "last section short of the record end", ChunkRecordErrorKind.BadSectionTable },
        { "q8 value -128", ChunkRecordErrorKind.BadPayload },
        { "q8 negative scale", ChunkRecordErrorKind.BadPayload },
        { "q8 payload of the wrong length", ChunkRecordErrorKind.BadPayload },
    };

    [Theory]
    [MemberData(nameof(Cases))]
    public void Each_violation_gives_its_error_kind(string violation, ChunkRecordErrorKind expected)
    {
        Assert.Equal(expected, KindOf(Corrupt(violation)));
    }

    internal static byte[] Corrupt(string violation)
    {
        byte[] r = Valid(violation.StartsWith("q8", StringComparison.Ordinal) ? CodecId.Q8 : CodecId.Raw);
        switch (violation)
        {
            case "empty": return [];
            case "shorter than the fixed header": return r[..159];
            case "bad magic": r[1] = (byte)'X'; return r;
            case "needs reader version 2": BinaryPrimitives.WriteUInt16LittleEndian(r.AsSpan(8), 2); BinaryPrimitives.WriteUInt16LittleEndian(r.AsSpan(10), 2); return RecordSurgery.SealHeader(r);
            case "format version 0": BinaryPrimitives.WriteUInt16LittleEndian(r.AsSpan(8), 0); BinaryPrimitives.WriteUInt16LittleEndian(r.AsSpan(10), 0); return RecordSurgery.SealHeader(r);
            case "reserved flag bit": r[12] = 1; return RecordSurgery.SealHeader(r);
            case "reserved header byte": r[140] = 1; return RecordSurgery.SealHeader(r);
            case "reserved entry byte": r[RecordSurgery.EntryOffset(r, 1) + 30] = 1; return RecordSurgery.SealHeader(r);
            case "header checksum": r[64] ^= 1; return r;
            case "truncated table": return r[..(RecordSurgery.EntryOffset(r, 2) + 5)];
            case "truncated payload": return r[..^1];
            case "trailing bytes": return [.. r, 0];
            case "zero layers": BinaryPrimitives.WriteUInt32LittleEndian(r.AsSpan(24), 0); return RecordSurgery.SealHeader(r);
            case "absurd layers": BinaryPrimitives.WriteUInt32LittleEndian(r.AsSpan(24), uint.MaxValue); return RecordSurgery.SealHeader(r);
            case "absurd head dim": BinaryPrimitives.WriteUInt32LittleEndian(r.AsSpan(32), 1u << 30); return RecordSurgery.SealHeader(r);
            case "absurd token count": BinaryPrimitives.WriteUInt32LittleEndian(r.AsSpan(52), uint.MaxValue); return RecordSurgery.SealHeader(r);
            case "section count not 2 x layers": BinaryPrimitives.WriteUInt32LittleEndian(r.AsSpan(60), 3); return RecordSurgery.SealHeader(r);
            case "wrong header size": BinaryPrimitives.WriteUInt32LittleEndian(r.AsSpan(16), 168); return r;
            case "wrong entry size": BinaryPrimitives.WriteUInt16LittleEndian(r.AsSpan(20), 40); return r;
            case "unknown element type": r[36] = 4; return RecordSurgery.SealHeader(r);
            case "unknown key kind": r[39] = 3; return RecordSurgery.SealHeader(r);
            case "invalid utf-8 model id": r[160] = 0xFF; return RecordSurgery.SealHeader(r);
            case "fingerprint mismatch": r[100] ^= 0x40; return RecordSurgery.SealHeader(r);
            case "record length past 2^40": BinaryPrimitives.WriteUInt64LittleEndian(r.AsSpan(128), (1UL << 40) + 64); return RecordSurgery.SealHeader(r);
            case "misaligned section": BinaryPrimitives.WriteInt64LittleEndian(r.AsSpan(RecordSurgery.EntryOffset(r, 1)), RecordSurgery.SectionOffset(r, 1) + 8); return RecordSurgery.SealHeader(r);
            case "overlapping sections": BinaryPrimitives.WriteInt64LittleEndian(r.AsSpan(RecordSurgery.EntryOffset(r, 1)), RecordSurgery.SectionOffset(r, 0)); return RecordSurgery.SealHeader(r);
            case "section past the end": BinaryPrimitives.WriteInt64LittleEndian(r.AsSpan(RecordSurgery.EntryOffset(r, 3) + 8), RecordSurgery.SectionLength(r, 3) + 64); return RecordSurgery.SealHeader(r);
            case "mislabelled section": r[RecordSurgery.EntryOffset(r, 2) + 26] = 1; return RecordSurgery.SealHeader(r);
            case "unknown codec": r[22] = 7; return RecordSurgery.SealHeader(r);
            case "unknown level": r[23] = 5; return RecordSurgery.SealHeader(r);
            case "section checksum": r[RecordSurgery.SectionOffset(r, 2)] ^= 1; return r;
            case "raw payload of the wrong length":
                BinaryPrimitives.WriteInt64LittleEndian(r.AsSpan(RecordSurgery.EntryOffset(r, 0) + 8), RecordSurgery.SectionLength(r, 0) - 4);
                return RecordSurgery.SealSection(r, 0);
            case "last section short of the record end":
                BinaryPrimitives.WriteInt64LittleEndian(r.AsSpan(128), r.Length + 64L);
                return RecordSurgery.SealHeader([.. r, .. new byte[64]]);
            case "q8 value -128":
            {
                long at = RecordSurgery.SectionOffset(r, 1) + 4 * 5 * 2; // past the 5 tokens × 2 heads scales
                r[at] = 0x80;
                return RecordSurgery.SealSection(r, 1);
            }

            case "q8 payload of the wrong length":
                BinaryPrimitives.WriteInt64LittleEndian(r.AsSpan(RecordSurgery.EntryOffset(r, 0) + 8), RecordSurgery.SectionLength(r, 0) - 1);
                return RecordSurgery.SealSection(r, 0);
            case "q8 negative scale":
                BinaryPrimitives.WriteSingleLittleEndian(r.AsSpan((int)RecordSurgery.SectionOffset(r, 0)), -1f);
                return RecordSurgery.SealSection(r, 0);
            default: throw new ArgumentException(violation);
        }
    }

    [Fact]
    public void A_record_that_would_decode_past_the_reader_s_limit_is_refused_before_decoding()
    {
        byte[] r = Valid(); // K and V of 2 layers x 5 tokens x 16 channels: 1280 bytes as binary32
        Assert.Equal(ChunkRecordErrorKind.TooLarge, Assert.Throws<ChunkRecordException>(() => ChunkRecord.Parse(r, maxDecodedBytes: 1279)).Kind);
        Assert.Equal(1280, ChunkRecord.Parse(r, maxDecodedBytes: 1280).Header.DecodedSingleBytes);
    }

    [Fact]
    public void A_reader_decodes_one_layer_without_touching_the_others()
    {
        byte[] r = Valid();
        r[RecordSurgery.SectionOffset(r, 3)] ^= 1; // corrupt layer 1 V
        ChunkRecord parsed = ChunkRecord.Parse(r);
        var values = new float[5 * 16];

        parsed.DecodeSection(0, SectionKind.Keys, values);
        parsed.DecodeSection(0, SectionKind.Values, values);
        parsed.DecodeSection(1, SectionKind.Keys, values);
        Assert.Equal(ChunkRecordErrorKind.SectionChecksum, Assert.Throws<ChunkRecordException>(() => parsed.DecodeSection(1, SectionKind.Values, values)).Kind);
        Assert.Throws<ChunkRecordException>(() => parsed.Decode());
    }

    [Fact]
    public void A_container_may_hold_bytes_after_the_record()
    {
        byte[] r = Valid();
        ChunkRecord parsed = ChunkRecord.Parse((byte[])[.. r, 1, 2, 3], allowTrailingBytes: true);
        Assert.Equal(r.Length, parsed.Bytes.Length);
    }

    [Fact]
    public void A_later_version_that_a_v1_reader_may_read_is_read()
    {
        // format_version 2 with min_reader_version 1 and unused flag bits set: v1 reads it (§6).
        byte[] r = Valid();
        BinaryPrimitives.WriteUInt16LittleEndian(r.AsSpan(8), 2);
        r[14] = 0xAB;
        ChunkRecord parsed = ChunkRecord.Parse(RecordSurgery.SealHeader(r));
        Assert.Equal(2, parsed.Header.FormatVersion);
        Assert.Equal(0xAB0000u, parsed.Header.Flags);
        parsed.Decode();
    }

    [Fact]
    public void Non_zero_padding_is_reported_but_does_not_stop_reading()
    {
        byte[] r = Valid();
        int padding = 160 + "test-model".Length + 1;
        r[padding] = 7;
        ChunkRecord parsed = ChunkRecord.Parse(RecordSurgery.SealHeader(r));
        Assert.Equal(padding, parsed.FirstNonZeroPadding());
        parsed.Decode();
    }

    [Fact]
    public void Random_corruption_yields_a_record_or_the_typed_error_and_nothing_else()
    {
        var random = new Random(20261128);
        byte[][] seeds = [Valid(CodecId.Raw), Valid(CodecId.Q8), Valid(CodecId.Raw, KvElementType.Float16), Valid(CodecId.Q8, KvElementType.BFloat16)];
        for (int i = 0; i < 4000; i++)
        {
            byte[] r = (byte[])seeds[i % seeds.Length].Clone();
            int edits = 1 + random.Next(4);
            for (int e = 0; e < edits; e++)
            {
                switch (random.Next(4))
                {
                    case 0: r[random.Next(r.Length)] ^= (byte)(1 << random.Next(8)); break;
                    case 1: r = r[..random.Next(r.Length)]; break;
                    case 2: r[random.Next(Math.Min(r.Length, 400))] = (byte)random.Next(256); break;
                    default: BinaryPrimitives.WriteUInt32LittleEndian(r.AsSpan(4 * random.Next(Math.Min(r.Length, 400) / 4 - 1)), (uint)random.Next()); break;
                }

                if (r.Length < 8)
                    break;
            }

            if (random.Next(2) == 0 && r.Length >= 160 && RecordSurgery.HeaderSize(r) is > 0 and < 1024 && RecordSurgery.SectionCount(r) is > 0 and < 64
                && RecordSurgery.HeaderSize(r) + 32 * RecordSurgery.SectionCount(r) <= r.Length)
            {
                RecordSurgery.SealHeader(r); // reach the checks behind the header checksum too
            }

            try
            {
                ChunkRecord.Parse(r).Decode();
            }
            catch (ChunkRecordException)
            {
                // the expected outcome for bad input
            }
        }
    }
}
