using FsCheck;
using FsCheck.Fluent;
using FsCheck.Xunit;
using KvTier.Format;
using KvTier.Format.Codecs;
using KvTier.Layout;
using Xunit;

namespace KvTier.Format.Tests.Records;

/// <summary>Records carry their header and KV faithfully; raw is lossless for every element type.</summary>
public sealed class RecordRoundTripTests
{
    [Theory]
    [InlineData(KvElementType.Float32)]
    [InlineData(KvElementType.Float16)]
    [InlineData(KvElementType.BFloat16)]
    public void Raw_round_trips_every_element_type_bit_for_bit(KvElementType type)
    {
        KvLayout layout = TestChunks.Layout(type);
        KvChunk chunk = TestChunks.Chunk(layout, 17);

        byte[] record = ChunkRecordWriter.Encode(chunk, TestChunks.Metadata(layout), CodecId.Raw, 0);
        KvChunk decoded = ChunkRecord.Parse(record).Decode();

        for (int layer = 0; layer < layout.Layers; layer++)
        {
            Assert.Equal(chunk.Section(layer, SectionKind.Keys).ToArray(), decoded.Section(layer, SectionKind.Keys).ToArray());
            Assert.Equal(chunk.Section(layer, SectionKind.Values).ToArray(), decoded.Section(layer, SectionKind.Values).ToArray());
        }
    }

    [Property(MaxTest = 100)]
    public Property Raw_f32_is_lossless_for_any_bits_including_nan_payloads() =>
        Prop.ForAll(ArbMap.Default.GeneratorFor<int>().ArrayOf(2 * 3 * 4).ToArbitrary(), bits =>
        {
            KvLayout layout = TestChunks.Layout(KvElementType.Float32, layers: 1, kvHeads: 1, headDim: 4);
            var chunk = new KvChunk(layout, 3);
            System.Runtime.InteropServices.MemoryMarshal.AsBytes(bits.AsSpan(0, 12)).CopyTo(chunk.Section(0, SectionKind.Keys));
            System.Runtime.InteropServices.MemoryMarshal.AsBytes(bits.AsSpan(12, 12)).CopyTo(chunk.Section(0, SectionKind.Values));
            KvChunk decoded = ChunkRecord.Parse(ChunkRecordWriter.Encode(chunk, TestChunks.Metadata(layout), CodecId.Raw, 0)).Decode();
            Assert.Equal(chunk.Section(0, SectionKind.Keys).ToArray(), decoded.Section(0, SectionKind.Keys).ToArray());
            Assert.Equal(chunk.Section(0, SectionKind.Values).ToArray(), decoded.Section(0, SectionKind.Values).ToArray());
        });

    [Fact]
    public void Header_fields_survive_the_round_trip()
    {
        KvLayout layout = TestChunks.Layout(KvElementType.Float16, layers: 3);
        ChunkRecordMetadata metadata = TestChunks.Metadata(layout, "mödel/ünïcode", ChunkKeyKind.Segment, firstPosition: 512);
        byte[] record = ChunkRecordWriter.Encode(TestChunks.Chunk(layout, 5), metadata, CodecId.Q8, 0);

        ChunkRecordHeader header = ChunkRecord.Parse(record, "x.kvt").Header;

        Assert.Equal(1, header.FormatVersion);
        Assert.Equal(1, header.MinReaderVersion);
        Assert.Equal(CodecId.Q8, header.Codec);
        Assert.Equal(0, header.Level);
        Assert.Equal("mödel/ünïcode", header.ModelId);
        Assert.Equal(layout, header.Layout);
        Assert.Equal(metadata.Fingerprint, header.Fingerprint);
        Assert.Equal(metadata.Key, header.Key);
        Assert.Equal(ChunkKeyKind.Segment, header.KeyKind);
        Assert.Equal(5, header.TokenCount);
        Assert.Equal(512, header.FirstPosition);
        Assert.Equal(record.Length, header.RecordLength);
    }

    [Fact]
    public void Layout_follows_the_spec_alignment_rules()
    {
        KvLayout layout = TestChunks.Layout(KvElementType.BFloat16, layers: 4);
        byte[] record = ChunkRecordWriter.Encode(TestChunks.Chunk(layout, 3), TestChunks.Metadata(layout), CodecId.Q8, 0);
        ChunkRecord parsed = ChunkRecord.Parse(record);

        Assert.Equal(160 + 16, parsed.Header.HeaderSize); // "test-model" is 10 bytes, padded to 16
        Assert.Equal(8, parsed.Sections.Count);
        long previousEnd = parsed.Header.TableEnd;
        foreach (SectionEntry entry in parsed.Sections)
        {
            Assert.Equal(0, entry.Offset % 64);
            Assert.True(entry.Offset >= previousEnd);
            Assert.True(entry.Offset - previousEnd < 64);
            previousEnd = entry.Offset + entry.Length;
        }

        Assert.Equal(record.Length, previousEnd);
        Assert.Equal(-1, parsed.FirstNonZeroPadding());
    }

    [Fact]
    public void Encoding_is_deterministic()
    {
        KvLayout layout = TestChunks.Layout();
        KvChunk chunk = TestChunks.Chunk(layout, 9);
        foreach (CodecInfo codec in new[] { ChunkCodecs.Raw, ChunkCodecs.Q8 })
        {
            Assert.Equal(
                ChunkRecordWriter.Encode(chunk, TestChunks.Metadata(layout), codec.Id, codec.DefaultLevel),
                ChunkRecordWriter.Encode(TestChunks.Chunk(layout, 9), TestChunks.Metadata(layout), codec.Id, codec.DefaultLevel));
        }
    }

    [Fact]
    public void Q8_error_is_at_most_half_a_step_of_its_token_and_head_scale()
    {
        KvLayout layout = TestChunks.Layout();
        KvChunk chunk = TestChunks.Chunk(layout, 33);
        ChunkRecord record = ChunkRecord.Parse(ChunkRecordWriter.Encode(chunk, TestChunks.Metadata(layout), CodecId.Q8, 0));
        var decoded = new float[chunk.ElementsPerSection];
        for (int layer = 0; layer < layout.Layers; layer++)
        {
            float[] original = chunk.ToSingleArray(layer, SectionKind.Values);
            record.DecodeSection(layer, SectionKind.Values, decoded);
            for (int g = 0; g < 33 * layout.KvHeads; g++)
            {
                ReadOnlySpan<float> group = original.AsSpan(g * layout.HeadDim, layout.HeadDim);
                float step = 0;
                foreach (float x in group)
                    step = MathF.Max(step, MathF.Abs(x) / 127f);
                for (int i = 0; i < layout.HeadDim; i++)
                    Assert.True(MathF.Abs(decoded[g * layout.HeadDim + i] - group[i]) <= step * 0.5001f + 1e-7f);
            }
        }
    }

    [Fact]
    public void Bad_arguments_to_the_writer_name_the_problem()
    {
        KvLayout layout = TestChunks.Layout();
        KvChunk chunk = TestChunks.Chunk(layout, 2);
        Assert.Throws<ArgumentOutOfRangeException>(() => ChunkRecordWriter.Encode(chunk, TestChunks.Metadata(layout), CodecId.Raw, 1));
        Assert.Throws<ArgumentOutOfRangeException>(() => ChunkRecordWriter.Encode(chunk, TestChunks.Metadata(layout), (CodecId)9, 0));
        Assert.Throws<ArgumentException>(() => ChunkRecordWriter.Encode(chunk, TestChunks.Metadata(TestChunks.Layout(layers: 3)), CodecId.Raw, 0));
        Assert.Throws<ArgumentOutOfRangeException>(() => ChunkRecordWriter.Encode(chunk, TestChunks.Metadata(layout, firstPosition: int.MaxValue), CodecId.Raw, 0));
        chunk.SetSingle(0, SectionKind.Keys, Enumerable.Repeat(float.NaN, chunk.ElementsPerSection).ToArray());
        Assert.Throws<ArgumentException>(() => ChunkRecordWriter.Encode(chunk, TestChunks.Metadata(layout), CodecId.Q8, 0));
    }
}
