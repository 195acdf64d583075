using System.Globalization;

namespace KvTier.GpuCheck;

/// <summary>The command line: <c>--vectors DIR --out FILE.json [--accelerator best|cpu] [--seconds N]</c>.</summary>
internal sealed class CheckOptions
{
    /// <summary>The conformance vectors (the folder holding manifest.json).</summary>
    public required string VectorsDirectory { get; init; }

    /// <summary>Where the JSON result goes. Default: gpu-check.json in the working directory.</summary>
    public required string OutputFile { get; init; }

    /// <summary>True for ILGPU's CPU accelerator (slow; testing the tool without a GPU); false for the best CUDA/OpenCL device.</summary>
    public bool CpuAccelerator { get; init; }

    /// <summary>Timing budget of each throughput measurement, in seconds. Default: 1 on a GPU, 0.05 on the CPU accelerator.</summary>
    public double SecondsPerMeasurement { get; init; }

    public const string Usage =
        "usage: kvtier-gpucheck --vectors DIR --out FILE.json [--accelerator best|cpu] [--seconds N]\n" +
        "  --vectors DIR        conformance vectors (format-spec/vectors, with manifest.json)\n" +
        "  --out FILE.json      result file (default gpu-check.json)\n" +
        "  --accelerator KIND   best: the CUDA/OpenCL device (default); cpu: ILGPU's CPU accelerator, small throughput sizes\n" +
        "  --seconds N          timing budget per throughput measurement (default 1, or 0.05 with --accelerator cpu)\n" +
        "exit codes: 0 ok, 1 a check failed, 2 usage, 3 no GPU device, 4 error";

    /// <summary>Parses <paramref name="args"/>; null with <paramref name="error"/> set when they are wrong.</summary>
    public static CheckOptions? TryParse(string[] args, out string? error)
    {
        string? vectors = null;
        string output = "gpu-check.json";
        bool cpu = false;
        double? seconds = null;
        error = null;
        for (int i = 0; i < args.Length; i++)
        {
            string name = args[i];
            if (name is "-h" or "--help")
            {
                error = "";
                return null;
            }

            if (i + 1 >= args.Length)
            {
                error = $"{name} needs a value.";
                return null;
            }

            string value = args[++i];
            switch (name)
            {
                case "--vectors":
                    vectors = value;
                    break;
                case "--out":
                    output = value;
                    break;
                case "--accelerator" when value is "best" or "cpu":
                    cpu = value == "cpu";
                    break;
                case "--accelerator":
                    error = $"--accelerator is best or cpu, not '{value}'.";
                    return null;
                case "--seconds" when double.TryParse(value, NumberStyles.Float, CultureInfo.InvariantCulture, out double s) && s > 0 && s <= 60:
                    seconds = s;
                    break;
                case "--seconds":
                    error = $"--seconds is a number of seconds in (0, 60], not '{value}'.";
                    return null;
                default:
                    error = $"unknown option {name}.";
                    return null;
            }
        }

        if (vectors is null)
        {
            error = "--vectors is required.";
            return null;
        }

        return new CheckOptions
        {
            VectorsDirectory = vectors,
            OutputFile = output,
            CpuAccelerator = cpu,
            SecondsPerMeasurement = seconds ?? (cpu ? 0.05 : 1.0),
        };
    }
}
