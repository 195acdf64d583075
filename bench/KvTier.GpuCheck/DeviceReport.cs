using System.Runtime.InteropServices;
using System.Text.Json.Nodes;
using ILGPU.Runtime;
using ILGPU.Runtime.Cuda;
using ILGPU.Runtime.OpenCL;

namespace KvTier.GpuCheck;

/// <summary>What the JSON and the console say about the machine and the accelerator the checks ran on.</summary>
internal static class DeviceReport
{
    /// <summary>The host: name, OS, runtime, CPU model and count, start time.</summary>
    public static JsonObject Machine() => new()
    {
        ["hostName"] = Environment.MachineName,
        ["os"] = RuntimeInformation.OSDescription,
        ["architecture"] = RuntimeInformation.OSArchitecture.ToString(),
        ["runtime"] = RuntimeInformation.FrameworkDescription,
        ["cpuModel"] = CpuModel(),
        ["logicalCpus"] = Environment.ProcessorCount,
        ["startedUtc"] = DateTime.UtcNow.ToString("O"),
    };

    /// <summary>The accelerator's name, memory, backend and, where ILGPU exposes them, driver and compute capability.</summary>
    public static JsonObject Describe(Accelerator accelerator)
    {
        Device device = accelerator.Device;
        var report = new JsonObject
        {
            ["name"] = accelerator.Name,
            ["backend"] = accelerator.AcceleratorType.ToString(),
            ["memoryBytes"] = accelerator.MemorySize,
            ["memoryGiB"] = Math.Round(accelerator.MemorySize / (1024.0 * 1024 * 1024), 2),
            ["multiprocessors"] = device.NumMultiprocessors,
            ["warpSize"] = device.WarpSize,
            ["maxThreadsPerGroup"] = device.MaxNumThreadsPerGroup,
        };
        if (device is CudaDevice cuda)
        {
            report["driverVersion"] = cuda.DriverVersion.ToString();
            report["computeCapability"] = cuda.Architecture?.ToString();
            report["ptxInstructionSet"] = cuda.InstructionSet?.ToString();
            report["clockRateKHz"] = cuda.ClockRate;
            report["memoryClockRateKHz"] = cuda.MemoryClockRate;
            report["memoryBusWidthBits"] = cuda.MemoryBusWidth;
            report["pciBusId"] = cuda.PCIBusId;
        }
        else if (device is CLDevice cl)
        {
            report["deviceVersion"] = cl.DeviceVersion.ToString();
            report["clStdVersion"] = cl.CLStdVersion.ToString();
            report["clockRateMHz"] = cl.ClockRate;
        }

        using var info = new StringWriter();
        device.PrintInformation(info);
        report["ilgpuInformation"] = info.ToString().TrimEnd();
        return report;
    }

    private static string? CpuModel()
    {
        try
        {
            foreach (string line in File.ReadLines("/proc/cpuinfo"))
            {
                if (line.StartsWith("model name", StringComparison.Ordinal))
                    return line[(line.IndexOf(':', StringComparison.Ordinal) + 1)..].Trim();
            }
        }
        catch (IOException)
        {
        }
        catch (UnauthorizedAccessException)
        {
        }

        return null;
    }
}
