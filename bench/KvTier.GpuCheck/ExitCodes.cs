namespace KvTier.GpuCheck;

/// <summary>The process exit codes of <c>kvtier-gpucheck</c>; bench/gpu/run.sh names them in its summary.</summary>
internal static class ExitCodes
{
    /// <summary>Every conformance vector passed and RoPE re-rotation stayed within 1 ulp of the reference.</summary>
    public const int Ok = 0;

    /// <summary>A conformance vector failed on the device (or RoPE re-rotation differed by more than 1 ulp).</summary>
    public const int CheckFailed = 1;

    /// <summary>The command line was wrong.</summary>
    public const int Usage = 2;

    /// <summary><c>--accelerator best</c> found no CUDA or OpenCL device; the JSON says <c>"device": null</c>.</summary>
    public const int NoDevice = 3;

    /// <summary>The check itself broke (an unexpected exception); the JSON carries the error.</summary>
    public const int Error = 4;
}
