using Xunit;

namespace KvTier.Gpu.Tests.Decoding;

/// <summary>A fact that needs a CUDA or OpenCL device: skipped, with a message saying so, where there is none.</summary>
[AttributeUsage(AttributeTargets.Method, AllowMultiple = false)]
public sealed class RequiresGpuFactAttribute : FactAttribute
{
    private static readonly Lazy<string?> SkipReason = new(() =>
    {
        using Context context = AcceleratorSelection.CreateContext();
        using Accelerator? accelerator = AcceleratorSelection.CreateBest(context);
        return accelerator is null ? "No CUDA or OpenCL device on this machine (bench/gpu/run.sh runs these checks on one)." : null;
    });

    public RequiresGpuFactAttribute()
    {
        if (SkipReason.Value is { } reason)
            Skip = reason;
    }
}
