using KvTier.Format;
using KvTier.Format.Codecs;
using KvTier.Layout;
using Xunit;

namespace KvTier.Gpu.Tests.Decoding;

/// <summary>Every codec and level, every element type, at odd sizes: the GPU decoder equals the CPU decoder bit for bit.</summary>
[Collection(CpuAcceleratorCollection.Name)]
public sealed class SectionDecoderTests(CpuAcceleratorFixture gpu)
{
    public static TheoryData<CodecId, int, KvElementType, int> Cases()
    {
        var data = new TheoryData<CodecId, int, KvElementType, int>();
        foreach ((CodecId codec, int level) in Records.CodecLevels())
        {
            foreach (KvElementType type in new[] { KvElementType.Float32, KvElementType.Float16, KvElementType.BFloat16 })
            {
                foreach (int tokens in Sizes.Tokens)
                    data.Add(codec, level, type, tokens);
            }
        }

        return data;
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void Gpu_decode_equals_cpu_decode(CodecId codec, int level, KvElementType type, int tokens)
    {
        foreach (bool smooth in new[] { false, true })
        {
            ChunkRecord record = Records.Create(Records.Layout(type), tokens, codec, level, smooth);
            foreach (SectionKind kind in new[] { SectionKind.Keys, SectionKind.Values })
            {
                var expected = new float[tokens * record.Header.Layout.KvDim];
                record.DecodeSection(0, kind, expected);
                var actual = new float[expected.Length];
                gpu.Decoder.Decode(record, 0, kind, actual);
                Sizes.BitEqual(expected, actual);
            }
        }
    }

    // Every codec, level and type at the sizes up to 1025 (8197 adds nothing here that the test above does not cover).
    public static TheoryData<CodecId, int, KvElementType, int> StagedCases()
    {
        var data = new TheoryData<CodecId, int, KvElementType, int>();
        foreach (object[] row in Cases())
        {
            if ((int)row[3] <= 1025)
                data.Add((CodecId)row[0], (int)row[1], (KvElementType)row[2], (int)row[3]);
        }
        return data;
    }

    [Theory]
    [MemberData(nameof(StagedCases))]
    public void Decoding_a_staged_copy_of_the_payload_equals_the_cpu_decoder(CodecId codec, int level, KvElementType type, int tokens)
    {
        ChunkRecord record = Records.Create(Records.Layout(type), tokens, codec, level, smooth: true);
        foreach (SectionKind kind in new[] { SectionKind.Keys, SectionKind.Values })
        {
            byte[] staged = record.GetPayload(0, kind).ToArray(); // What the prefetcher's read stage hands over.
            var expected = new float[tokens * record.Header.Layout.KvDim];
            record.DecodeSection(0, kind, expected);
            var actual = new float[expected.Length];
            gpu.Decoder.DecodePayload(record, 0, kind, staged, actual);
            Sizes.BitEqual(expected, actual);
            Assert.Throws<ArgumentException>(() => gpu.Decoder.DecodePayload(record, 0, kind, staged.AsSpan(1), actual));
        }
    }

    public static TheoryData<CodecId, int, KvElementType, int> ElementCases()
    {
        var data = new TheoryData<CodecId, int, KvElementType, int>();
        foreach ((CodecId codec, int level) in Records.CodecLevels())
        {
            foreach (KvElementType type in new[] { KvElementType.Float32, KvElementType.Float16, KvElementType.BFloat16 })
            {
                data.Add(codec, level, type, 17);
                data.Add(codec, level, type, 1025);
            }
        }

        return data;
    }

    [Theory]
    [MemberData(nameof(ElementCases))]
    public void Gpu_element_decode_equals_cpu_element_decode(CodecId codec, int level, KvElementType type, int tokens)
    {
        ChunkRecord record = Records.Create(Records.Layout(type), tokens, codec, level, smooth: level % 2 == 0);
        foreach (SectionKind kind in new[] { SectionKind.Keys, SectionKind.Values })
        {
            var expected = new byte[tokens * record.Header.Layout.KvDim * record.Header.Layout.ElementSize];
            record.DecodeSectionElements(0, kind, expected);
            var actual = new byte[expected.Length];
            gpu.Decoder.DecodeElements(record, 0, kind, actual);
            Assert.Equal(expected, actual);
        }
    }

    [Fact]
    public void The_device_buffer_holds_the_section()
    {
        ChunkRecord record = Records.Create(Records.Layout(KvElementType.BFloat16), 17, CodecId.Ans, 2, smooth: true);
        var expected = new float[17 * 8];
        record.DecodeSection(0, SectionKind.Values, expected);
        using MemoryBuffer1D<float, Stride1D.Dense> buffer = gpu.Decoder.Decode(record, 0, SectionKind.Values);
        Sizes.BitEqual(expected, gpu.Download(buffer));
    }

    [Fact]
    public void A_wrong_destination_length_is_rejected()
    {
        ChunkRecord record = Records.Create(Records.Layout(KvElementType.Float32), 17, CodecId.Q8, 0, smooth: false);
        Assert.Throws<ArgumentException>(() => gpu.Decoder.Decode(record, 0, SectionKind.Keys, new float[3]));
    }

    [Fact]
    public void Without_a_gpu_selection_returns_null_and_never_the_cpu_accelerator()
    {
        using Context context = Context.Create(builder => builder.CPU());
        Assert.Null(AcceleratorSelection.CreateBest(context));
    }
}
