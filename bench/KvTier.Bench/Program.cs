using BenchmarkDotNet.Configs;
using BenchmarkDotNet.Exporters.Json;
using BenchmarkDotNet.Running;

namespace KvTier.Bench;

/// <summary>Runs the micro-benchmarks; results (with ratios to each class's baseline) go to bench/results/.</summary>
internal static class Program
{
    private static void Main(string[] args)
    {
        string results = Path.Combine(FindBenchDirectory(), "results");
        string artifacts = Path.Combine(results, "artifacts");
        IConfig config = DefaultConfig.Instance
            .WithArtifactsPath(artifacts)
            .AddExporter(JsonExporter.Brief);
        BenchmarkSwitcher.FromAssembly(typeof(Program).Assembly).Run(args, config);

        // Keep one JSON per benchmark class beside the (ignored) artifacts: bench/results/<Class>.json.
        string reports = Path.Combine(artifacts, "results");
        if (!Directory.Exists(reports))
            return;
        foreach (string report in Directory.GetFiles(reports, "*-report-brief.json"))
        {
            string name = Path.GetFileName(report).Replace("-report-brief.json", ".json", StringComparison.Ordinal);
            name = name[(name.LastIndexOf('.', name.Length - 6) + 1)..];
            File.Copy(report, Path.Combine(results, name), overwrite: true);
        }
    }

    private static string FindBenchDirectory()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (Directory.Exists(Path.Combine(dir.FullName, "bench", "KvTier.Bench")))
                return Path.Combine(dir.FullName, "bench");
        }

        return Environment.CurrentDirectory;
    }
}
