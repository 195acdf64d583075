using System.Diagnostics;
using System.Text.Json;
using System.Text.Json.Nodes;
using ILGPU;
using ILGPU.Algorithms;
using ILGPU.Runtime;
using ILGPU.Runtime.CPU;
using KvTier.Gpu;
using KvTier.GpuCheck;

// kvtier-gpucheck: conformance, RoPE and decode throughput of src/KvTier.Gpu on one accelerator, written as JSON
// (bench/gpu/README.md). The JSON file is rewritten after every phase, so a run cut short by a timeout still leaves
// what it measured ("complete": false).

CheckOptions? options = CheckOptions.TryParse(args, out string? usageError);
if (options is null)
{
    if (!string.IsNullOrEmpty(usageError))
        Console.Error.WriteLine($"kvtier-gpucheck: {usageError}");
    Console.Error.WriteLine(CheckOptions.Usage);
    return usageError == "" ? ExitCodes.Ok : ExitCodes.Usage;
}

if (!File.Exists(Path.Combine(options.VectorsDirectory, "manifest.json")))
{
    Console.Error.WriteLine($"kvtier-gpucheck: {Path.GetFullPath(options.VectorsDirectory)} holds no manifest.json.");
    return ExitCodes.Usage;
}

DriverLibraries.InstallFallback();
var clock = Stopwatch.StartNew();
var result = new JsonObject
{
    ["tool"] = "kvtier-gpucheck",
    ["accelerator"] = options.CpuAccelerator ? "cpu" : "best",
    ["machine"] = DeviceReport.Machine(),
    ["device"] = null,
    ["conformance"] = null,
    ["rope"] = null,
    ["throughput"] = null,
    ["ok"] = false,
    ["complete"] = false,
};
Console.WriteLine($"kvtier-gpucheck on {result["machine"]!["hostName"]} ({result["machine"]!["cpuModel"]}), accelerator: {result["accelerator"]}");

int exitCode;
try
{
    exitCode = Run(options, result, clock);
}
catch (Exception e)
{
    Console.Error.WriteLine($"kvtier-gpucheck: the check broke: {e}");
    result["error"] = e.ToString();
    exitCode = ExitCodes.Error;
}

result["exitCode"] = exitCode;
result["complete"] = true;
result["totalSeconds"] = Math.Round(clock.Elapsed.TotalSeconds, 2);
Write(options.OutputFile, result);
Console.WriteLine($"wrote {Path.GetFullPath(options.OutputFile)}; ok: {result["ok"]}; exit code {exitCode}; {clock.Elapsed.TotalSeconds:F1} s");
return exitCode;

static int Run(CheckOptions options, JsonObject result, Stopwatch clock)
{
    using Context context = options.CpuAccelerator
        ? Context.Create(builder => builder.CPU().EnableAlgorithms())
        : AcceleratorSelection.CreateContext();
    result["devicesSeen"] = new JsonArray(context.Devices.Select(d => (JsonNode?)$"{d.AcceleratorType}: {d.Name}").ToArray());
    using Accelerator? accelerator = options.CpuAccelerator
        ? AcceleratorSelection.CreateCpuForTests(context)
        : AcceleratorSelection.CreateBest(context);
    if (accelerator is null)
    {
        string devices = string.Join("; ", context.Devices.Select(d => $"{d.AcceleratorType}: {d.Name}"));
        Console.WriteLine($"NO GPU: ILGPU found no CUDA or OpenCL device (devices seen: {devices}). Nothing was checked; exit code {ExitCodes.NoDevice}.");
        result["noDeviceReason"] = $"no CUDA or OpenCL device; ILGPU saw: {devices}";
        return ExitCodes.NoDevice;
    }

    result["device"] = DeviceReport.Describe(accelerator);
    Console.WriteLine($"device: {accelerator.Name} ({accelerator.AcceleratorType}, {accelerator.MemorySize / (1024.0 * 1024 * 1024):F1} GiB)");
    Console.WriteLine(result["device"]!["ilgpuInformation"]);

    long compileStart = Stopwatch.GetTimestamp();
    using var decoder = new GpuSectionDecoder(accelerator);
    result["kernelCompileSeconds"] = Math.Round(Stopwatch.GetElapsedTime(compileStart).TotalSeconds, 3);
    Write(options.OutputFile, result);

    Console.WriteLine("conformance vectors:");
    JsonObject conformance = ConformanceCheck.Run(decoder, options.VectorsDirectory);
    result["conformance"] = conformance;
    bool conformanceOk = (bool)conformance["ok"]!;
    Console.WriteLine($"  {conformance["passed"]} passed, {conformance["failed"]} failed ({conformance["seconds"]} s)");
    Write(options.OutputFile, result);

    Console.WriteLine("RoPE re-rotation vs the scalar reference:");
    JsonObject rope = RopeCheck.Run(accelerator, options.CpuAccelerator ? 17 : 256);
    result["rope"] = rope;
    bool ropeOk = (bool)rope["ok"]!;
    foreach (JsonNode? c in rope["cases"]!.AsArray())
        Console.WriteLine($"  {c!["case"]}: max {c["maxUlp"]} ulp, {c["differingElements"]} of {c["elements"]} elements differ");
    Write(options.OutputFile, result);

    Console.WriteLine("decode throughput (Melem/s; cpu = SIMD decoder, one thread):");
    result["throughput"] = options.CpuAccelerator
        ? ThroughputCheck.Run(decoder, tokens: 16, layers: 1, options.SecondsPerMeasurement)
        : ThroughputCheck.Run(decoder, tokens: 256, layers: 2, options.SecondsPerMeasurement);

    bool ok = conformanceOk && ropeOk;
    result["ok"] = ok;
    Console.WriteLine($"conformance {(conformanceOk ? "PASSED" : "FAILED")}, RoPE {(ropeOk ? "within" : "BEYOND")} {RopeCheck.ToleranceUlps} ulp ({clock.Elapsed.TotalSeconds:F1} s)");
    return ok ? ExitCodes.Ok : ExitCodes.CheckFailed;
}

static void Write(string path, JsonObject result)
{
    string? folder = Path.GetDirectoryName(Path.GetFullPath(path));
    if (folder is not null)
        Directory.CreateDirectory(folder);
    string temporary = path + ".tmp";
    File.WriteAllText(temporary, result.ToJsonString(new JsonSerializerOptions { WriteIndented = true }));
    File.Move(temporary, path, overwrite: true);
}
