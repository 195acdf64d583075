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
        IConfig config = DefaultConfig.Instance
            .WithArtifactsPath(Path.Combine(results, "artifacts"))
            .AddExporter(JsonExporter.Full);
        BenchmarkSwitcher.FromAssembly(typeof(Program).Assembly).Run(args, config);
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
