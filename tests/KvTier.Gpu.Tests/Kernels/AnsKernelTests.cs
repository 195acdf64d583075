using KvTier.Format;
using KvTier.Format.Codecs;
using KvTier.Gpu.Kernels;
using KvTier.Gpu.Reference;
using KvTier.Layout;
using Xunit;

namespace KvTier.Gpu.Tests.Kernels;

/// <summary>The ans kernels (§9.2–§9.4) against their scalar references, bit for bit, on payloads KvTier's encoder wrote.</summary>
[Collection(CpuAcceleratorCollection.Name)]
public sealed class AnsKernelTests(CpuAcceleratorFixture gpu)
{
    public static TheoryData<int, int, bool> Cases()
    {
        var data = new TheoryData<int, int, bool>();
        foreach (int tokens in Sizes.Tokens)
        {
            for (int level = 1; level <= 4; level++)
                data.Add(tokens, level, level % 2 == 0);
        }

        return data;
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void Lane_decoding_matches_the_reference(int tokens, int level, bool smooth)
    {
        KvLayout layout = Records.Layout(KvElementType.Float16);
        ChunkRecord record = Records.Create(layout, tokens, CodecId.Ans, level, smooth);
        foreach (SectionKind kind in new[] { SectionKind.Keys, SectionKind.Values })
        {
            ReadOnlySpan<byte> payload = record.GetPayload(0, kind);
            AnsHostTables tables = AnsHostTables.Build(new SectionContext(layout, tokens, 0, kind), payload);
            AnsLaneShape shape = tables.Shape;
            var expected = new int[shape.Elements];
            Assert.True(AnsReference.DecodeLanes(tables.Cumulative, tables.States, tables.Starts, tables.Words, expected, shape));

            using var cumulative = gpu.Upload(tables.Cumulative);
            using var states = gpu.Upload(tables.States);
            using var starts = gpu.Upload(tables.Starts);
            using var words = gpu.Upload(tables.Words);
            using var values = gpu.Accelerator.Allocate1D<int>(shape.Elements);
            using var fault = gpu.Upload(new int[1]);
            gpu.Kernels.AnsDecodeLanes(shape.Lanes, cumulative.View, states.View, starts.View, words.View, values.View, fault.View, shape);
            Assert.Equal(expected, gpu.Download(values));
            Assert.Equal(0, gpu.Download(fault)[0]);

            if (tables.Fields.Prediction == 1)
            {
                Assert.True(AnsReference.AccumulatePrediction(expected, shape));
                gpu.Kernels.AnsAccumulatePrediction(shape.KvDim, values.View, fault.View, shape);
                Assert.Equal(expected, gpu.Download(values));
                Assert.Equal(0, gpu.Download(fault)[0]);
            }

            float[] scales = tables.WidenedScales(payload);
            var dequantized = new float[shape.Elements];
            AnsReference.Dequantize(expected, scales, dequantized, shape);
            using var scaleBuffer = gpu.Upload(scales);
            using var output = gpu.Accelerator.Allocate1D<float>(shape.Elements);
            gpu.Kernels.AnsDequantize(shape.Elements, values.View, scaleBuffer.View, output.View, shape);
            Sizes.BitEqual(dequantized, gpu.Download(output));
        }
    }

    [Fact]
    public void The_smooth_records_exercise_prediction_and_the_noisy_ones_do_not()
    {
        KvLayout layout = Records.Layout(KvElementType.Float32);
        int Prediction(bool smooth)
        {
            ChunkRecord record = Records.Create(layout, 1025, CodecId.Ans, 2, smooth);
            return AnsHostTables.Build(new SectionContext(layout, 1025, 0, SectionKind.Keys), record.GetPayload(0, SectionKind.Keys)).Fields.Prediction;
        }

        Assert.Equal(1, Prediction(smooth: true));
        Assert.Equal(0, Prediction(smooth: false));
    }

    [Theory]
    [MemberData(nameof(Sizes.TokenData), MemberType = typeof(Sizes))]
    public void A_corrupted_lane_stream_is_a_fault_in_kernel_and_reference(int tokens)
    {
        KvLayout layout = Records.Layout(KvElementType.Float32);
        ChunkRecord record = Records.Create(layout, tokens, CodecId.Ans, 3, smooth: false);
        AnsHostTables tables = AnsHostTables.Build(new SectionContext(layout, tokens, 0, SectionKind.Keys), record.GetPayload(0, SectionKind.Keys));
        AnsLaneShape shape = tables.Shape;
        uint[] states = (uint[])tables.States.Clone();
        states[0] ^= 0x5A5A; // a wrong start state: the lane cannot end in 2^16 with its stream consumed
        Assert.False(AnsReference.DecodeLanes(tables.Cumulative, states, tables.Starts, tables.Words, new int[shape.Elements], shape));

        using var cumulative = gpu.Upload(tables.Cumulative);
        using var stateBuffer = gpu.Upload(states);
        using var starts = gpu.Upload(tables.Starts);
        using var words = gpu.Upload(tables.Words);
        using var values = gpu.Accelerator.Allocate1D<int>(shape.Elements);
        using var fault = gpu.Upload(new int[1]);
        gpu.Kernels.AnsDecodeLanes(shape.Lanes, cumulative.View, stateBuffer.View, starts.View, words.View, values.View, fault.View, shape);
        Assert.Equal(1, gpu.Download(fault)[0]);
    }

    [Theory]
    [MemberData(nameof(Sizes.TokenData), MemberType = typeof(Sizes))]
    public void Prediction_and_dequantization_match_their_references_on_every_scale_axis(int tokens)
    {
        const int heads = 3, headDim = 2, kvDim = heads * headDim, bound = 9;
        var random = new Random(tokens);
        var deltas = new int[tokens * kvDim];
        for (int i = 0; i < deltas.Length; i++)
            deltas[i] = i < kvDim ? random.Next(-bound, bound + 1) : random.Next(-1, 2);
        var clamped = (int[])deltas.Clone();
        var shape = new AnsLaneShape(deltas.Length, kvDim, 1, kvDim, 4 * bound + 1, bound, 0);

        // A walk that can leave [−B, B]: kernel and reference agree on values and on the fault.
        int[] expected = (int[])clamped.Clone();
        bool valid = AnsReference.AccumulatePrediction(expected, shape);
        using var values = gpu.Upload(clamped);
        using var fault = gpu.Upload(new int[1]);
        gpu.Kernels.AnsAccumulatePrediction(kvDim, values.View, fault.View, shape);
        Assert.Equal(valid ? 0 : 1, gpu.Download(fault)[0]);
        if (valid)
            Assert.Equal(expected, gpu.Download(values));

        var quantized = new int[deltas.Length];
        for (int i = 0; i < quantized.Length; i++)
            quantized[i] = random.Next(-bound, bound + 1);
        using var q = gpu.Upload(quantized);
        foreach (int width in new[] { 0, headDim, kvDim })
        {
            AnsLaneShape s = shape with { ScaleGroupWidth = width };
            var scales = new float[width == 0 ? kvDim : tokens * (kvDim / width)];
            for (int k = 0; k < scales.Length; k++)
                scales[k] = (float)(random.NextDouble() * Math.Pow(2, random.Next(-14, 10)));
            var reference = new float[quantized.Length];
            AnsReference.Dequantize(quantized, scales, reference, s);
            using var scaleBuffer = gpu.Upload(scales);
            using var output = gpu.Accelerator.Allocate1D<float>(quantized.Length);
            gpu.Kernels.AnsDequantize(quantized.Length, q.View, scaleBuffer.View, output.View, s);
            Sizes.BitEqual(reference, gpu.Download(output));
        }
    }
}
