using ILGPU;
using ILGPU.Runtime;
using KvTier.Gpu;

namespace KvTier.Prefetch.Decoding;

/// <summary>
/// Decode placement (issue 5 §1): the best accelerator present — a CUDA device first, then OpenCL
/// (<see cref="AcceleratorSelection.CreateBest"/>) — and, where there is none, the native CPU SIMD decoders
/// (<see cref="CpuSectionDecoder"/>). Never ILGPU's CPU accelerator: it runs kernels as .NET code, about 100 times slower
/// than the CPU decoders.
/// </summary>
/// <remarks>Thread-safe. The probe for a GPU runs once per process (devices do not appear while it runs).</remarks>
public static class SectionDecoders
{
    private static readonly Lazy<bool> s_gpuPresent = new(ProbeGpu, LazyThreadSafetyMode.ExecutionAndPublication);
    private static string? s_probeFailure;

    /// <summary>Whether this machine has a CUDA or OpenCL device ILGPU can use (probed once per process).</summary>
    public static bool GpuPresent => s_gpuPresent.Value;

    /// <summary>
    /// Why the GPU probe failed, or null when it ran cleanly (no GPU, or one found). A failing probe (a broken driver or
    /// OpenCL loader) counts as no GPU, so that prefetching still works on the CPU.
    /// </summary>
    public static string? GpuProbeFailure
    {
        get
        {
            _ = s_gpuPresent.Value;
            return Volatile.Read(ref s_probeFailure);
        }
    }

    /// <summary>
    /// The best decoder for this machine: an <see cref="AcceleratorSectionDecoder"/> over a new context and accelerator
    /// for the best GPU (it owns both: dispose it after the prefetchers using it), or <see cref="CpuSectionDecoder.Instance"/>
    /// when there is no GPU. A <see cref="Prefetcher"/> whose <see cref="PrefetcherOptions.Decoder"/> is unset calls this
    /// and disposes what it got.
    /// </summary>
    /// <remarks>
    /// Creating the accelerator decoder compiles the decode kernels: seconds, once per call. Once a GPU was found, a
    /// failure to open it or compile for it is thrown, not hidden behind the CPU decoder.
    /// </remarks>
    public static ISectionDecoder Best()
    {
        if (!GpuPresent)
            return CpuSectionDecoder.Instance;
        Context context = AcceleratorSelection.CreateContext();
        Accelerator? accelerator = null;
        try
        {
            accelerator = AcceleratorSelection.CreateBest(context);
            if (accelerator is null || accelerator.AcceleratorType == AcceleratorType.CPU)
            {
                accelerator?.Dispose();
                context.Dispose();
                return CpuSectionDecoder.Instance;
            }
            return new AcceleratorSectionDecoder(accelerator, ownsAccelerator: true, ownedContext: context);
        }
        catch
        {
            accelerator?.Dispose();
            context.Dispose();
            throw;
        }
    }

    private static bool ProbeGpu()
    {
        try
        {
            // The same context CreateBest sees, so that the probe and the choice agree.
            using Context context = AcceleratorSelection.CreateContext();
            foreach (Device device in context.Devices)
            {
                if (device.AcceleratorType is AcceleratorType.Cuda or AcceleratorType.OpenCL)
                    return true;
            }
            return false;
        }
        catch (Exception ex) when (ex is not OutOfMemoryException)
        {
            Volatile.Write(ref s_probeFailure, $"{ex.GetType().Name}: {ex.Message}");
            return false;
        }
    }
}
