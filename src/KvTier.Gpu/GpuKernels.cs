using ILGPU;
using ILGPU.Runtime;
using KvTier.Gpu.Kernels;

namespace KvTier.Gpu;

/// <summary>
/// Every decode kernel compiled once for one accelerator (auto-grouped, on its default stream). Immutable after
/// construction; launches go to the accelerator's default stream, so callers that share it serialize their launches.
/// </summary>
internal sealed class GpuKernels
{
    public GpuKernels(Accelerator accelerator)
    {
        Accelerator = accelerator;
        WidenHalf = accelerator.LoadAutoGroupedStreamKernel<Index1D, ArrayView<ushort>, ArrayView<float>>(ElementKernels.WidenHalf);
        WidenBFloat16 = accelerator.LoadAutoGroupedStreamKernel<Index1D, ArrayView<ushort>, ArrayView<float>>(ElementKernels.WidenBFloat16);
        WidenSingle = accelerator.LoadAutoGroupedStreamKernel<Index1D, ArrayView<uint>, ArrayView<float>>(ElementKernels.WidenSingle);
        RoundToHalf = accelerator.LoadAutoGroupedStreamKernel<Index1D, ArrayView<float>>(ElementKernels.RoundToHalf);
        RoundToBFloat16 = accelerator.LoadAutoGroupedStreamKernel<Index1D, ArrayView<float>>(ElementKernels.RoundToBFloat16);
        NarrowToHalf = accelerator.LoadAutoGroupedStreamKernel<Index1D, ArrayView<float>, ArrayView<ushort>>(ElementKernels.NarrowToHalf);
        NarrowToBFloat16 = accelerator.LoadAutoGroupedStreamKernel<Index1D, ArrayView<float>, ArrayView<ushort>>(ElementKernels.NarrowToBFloat16);
        Q8Dequantize = accelerator.LoadAutoGroupedStreamKernel<Index1D, ArrayView<byte>, ArrayView<float>, ArrayView<float>, ArrayView<int>, int>(Q8Kernels.Dequantize);
        AnsDecodeLanes = accelerator.LoadAutoGroupedStreamKernel<Index1D, ArrayView<int>, ArrayView<uint>, ArrayView<int>, ArrayView<ushort>, ArrayView<int>, ArrayView<int>, AnsLaneShape>(AnsKernels.DecodeLanes);
        AnsAccumulatePrediction = accelerator.LoadAutoGroupedStreamKernel<Index1D, ArrayView<int>, ArrayView<int>, AnsLaneShape>(AnsKernels.AccumulatePrediction);
        AnsDequantize = accelerator.LoadAutoGroupedStreamKernel<Index1D, ArrayView<int>, ArrayView<float>, ArrayView<float>, AnsLaneShape>(AnsKernels.Dequantize);
    }

    public Accelerator Accelerator { get; }

    public Action<Index1D, ArrayView<ushort>, ArrayView<float>> WidenHalf { get; }

    public Action<Index1D, ArrayView<ushort>, ArrayView<float>> WidenBFloat16 { get; }

    public Action<Index1D, ArrayView<uint>, ArrayView<float>> WidenSingle { get; }

    public Action<Index1D, ArrayView<float>> RoundToHalf { get; }

    public Action<Index1D, ArrayView<float>> RoundToBFloat16 { get; }

    public Action<Index1D, ArrayView<float>, ArrayView<ushort>> NarrowToHalf { get; }

    public Action<Index1D, ArrayView<float>, ArrayView<ushort>> NarrowToBFloat16 { get; }

    public Action<Index1D, ArrayView<byte>, ArrayView<float>, ArrayView<float>, ArrayView<int>, int> Q8Dequantize { get; }

    public Action<Index1D, ArrayView<int>, ArrayView<uint>, ArrayView<int>, ArrayView<ushort>, ArrayView<int>, ArrayView<int>, AnsLaneShape> AnsDecodeLanes { get; }

    public Action<Index1D, ArrayView<int>, ArrayView<int>, AnsLaneShape> AnsAccumulatePrediction { get; }

    public Action<Index1D, ArrayView<int>, ArrayView<float>, ArrayView<float>, AnsLaneShape> AnsDequantize { get; }
}
