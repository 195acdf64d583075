using ILGPU;
using ILGPU.Algorithms;
using ILGPU.Runtime;

namespace KvTier.Gpu;

/// <summary>
/// Picks the accelerator that decodes: a CUDA device first, then an OpenCL device (the one with the most memory of
/// its kind), never ILGPU's CPU accelerator — that one is ~100 times slower than the CPU decoder and exists here only
/// for the kernel tests (<see cref="CreateCpuForTests"/>). With no GPU, callers decode on the CPU
/// (<c>ChunkRecord.DecodeSection</c>).
/// </summary>
public static class AcceleratorSelection
{
    /// <summary>An ILGPU context with every backend this machine offers (and ILGPU.Algorithms' intrinsics). The caller disposes it after its accelerators.</summary>
    public static Context CreateContext() => Context.Create(builder => builder.Default().EnableAlgorithms());

    /// <summary>The best GPU accelerator in <paramref name="context"/>, or null when it has none. The caller disposes it.</summary>
    public static Accelerator? CreateBest(Context context)
    {
        ArgumentNullException.ThrowIfNull(context);
        Device? device = Best(context, AcceleratorType.Cuda) ?? Best(context, AcceleratorType.OpenCL);
        return device?.CreateAccelerator(context);
    }

    /// <summary>ILGPU's CPU accelerator, which runs kernels as .NET code: for tests of the kernels only.</summary>
    public static Accelerator CreateCpuForTests(Context context)
    {
        ArgumentNullException.ThrowIfNull(context);
        Device device = Best(context, AcceleratorType.CPU)
            ?? throw new InvalidOperationException("The context has no CPU accelerator; create it with Context.Create(b => b.CPU()).");
        return device.CreateAccelerator(context);
    }

    private static Device? Best(Context context, AcceleratorType type)
    {
        Device? best = null;
        foreach (Device device in context.Devices)
        {
            if (device.AcceleratorType == type && (best is null || device.MemorySize > best.MemorySize))
                best = device;
        }

        return best;
    }
}
