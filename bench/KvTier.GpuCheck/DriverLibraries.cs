using System.Reflection;
using System.Runtime.InteropServices;
using System.Runtime.Loader;

namespace KvTier.GpuCheck;

/// <summary>
/// ILGPU imports the CUDA driver as "cuda" (and NVML, OpenCL by their short names), which .NET resolves to
/// <c>libcuda.so</c>: the development symlink, which a driver-only machine or a GPU container often lacks. When that
/// lookup fails, this resolver loads the versioned runtime names (<c>libcuda.so.1</c>, ...) that every driver installs.
/// </summary>
internal static class DriverLibraries
{
    private static readonly Dictionary<string, string[]> Versioned = new(StringComparer.Ordinal)
    {
        ["cuda"] = ["libcuda.so.1"],
        ["nvml"] = ["libnvidia-ml.so.1"],
        ["nvidia-ml"] = ["libnvidia-ml.so.1"],
        ["OpenCL"] = ["libOpenCL.so.1"],
    };

    /// <summary>Installs the fallback for the whole process; call before the first ILGPU context.</summary>
    public static void InstallFallback()
    {
        if (OperatingSystem.IsLinux())
            AssemblyLoadContext.Default.ResolvingUnmanagedDll += Resolve;
    }

    private static IntPtr Resolve(Assembly assembly, string name)
    {
        if (Versioned.TryGetValue(name, out string[]? candidates))
        {
            foreach (string candidate in candidates)
            {
                if (NativeLibrary.TryLoad(candidate, out IntPtr handle))
                    return handle;
            }
        }

        return IntPtr.Zero;
    }
}
