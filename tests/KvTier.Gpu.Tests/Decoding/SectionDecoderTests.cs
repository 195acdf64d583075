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

    [Theory]
    [InlineData(CodecId.Raw, 0, KvElementType.Float16)]
    [InlineData(CodecId.Q8, 0, KvElementType.Float32)]
    [InlineData(CodecId.Ans, 2, KvElementType.BFloat16)]
    public void Decoding_into_a_device_view_fills_exactly_those_rows(CodecId codec, int level, KvElementType type)
    {
        ChunkRecord record = Records.Create(Records.Layout(type), 17, codec, level, smooth: true);
        int elements = 17 * record.Header.Layout.KvDim;
        var expected = new float[elements];
        record.DecodeSection(0, SectionKind.Keys, expected);
        // A view in the middle of a larger buffer, as a prefetch into a device KV buffer writes it.
        var canvas = new float[elements + 64];
        Array.Fill(canvas, -7f);
        using MemoryBuffer1D<float, Stride1D.Dense> buffer = gpu.Upload(canvas);
        gpu.Decoder.DecodePayload(record, 0, SectionKind.Keys, record.GetPayload(0, SectionKind.Keys), buffer.View.SubView(32, elements));

        float[] result = gpu.Download(buffer);
        Sizes.BitEqual(expected, result.AsSpan(32, elements).ToArray());
        Assert.All(result[..32], v => Assert.Equal(-7f, v));
        Assert.All(result[(32 + elements)..], v => Assert.Equal(-7f, v));
    }

    [Fact]
    public void Repeated_decodes_reuse_device_buffers_instead_of_allocating()
    {
        using var decoder = new GpuSectionDecoder(gpu.Accelerator);
        ChunkRecord[] records =
        [
            Records.Create(Records.Layout(KvElementType.Float16), 1025, CodecId.Ans, 2, smooth: true),
            Records.Create(Records.Layout(KvElementType.Float32), 17, CodecId.Q8, 0, smooth: false),
            Records.Create(Records.Layout(KvElementType.BFloat16), 257, CodecId.Raw, 0, smooth: false),
        ];
        long afterFirstPass = 0;
        for (int pass = 0; pass < 3; pass++)
        {
            foreach (ChunkRecord record in records)
            {
                var expected = new float[record.Header.TokenCount * record.Header.Layout.KvDim];
                record.DecodeSection(0, SectionKind.Values, expected);
                var actual = new float[expected.Length];
                decoder.Decode(record, 0, SectionKind.Values, actual);
                Sizes.BitEqual(expected, actual);
            }
            if (pass == 0)
                afterFirstPass = decoder.ScratchBytes;
        }
        Assert.True(afterFirstPass > 0);
        Assert.Equal(afterFirstPass, decoder.ScratchBytes); // Grown once to the largest section, then reused.
        decoder.Dispose();
        Assert.Equal(0, decoder.ScratchBytes);
        Assert.Throws<ObjectDisposedException>(() => decoder.Decode(records[1], 0, SectionKind.Keys, new float[17 * records[1].Header.Layout.KvDim]));
        Assert.Equal(0, decoder.ScratchBytes); // Refused before anything was allocated again.
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
