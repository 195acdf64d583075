namespace KvTier.PrefetchBench;

/// <summary>Command-line options.</summary>
/// <param name="Reps">Timed requests per path and cache state (after one untimed).</param>
/// <param name="Only">Run only the case of this name (the JSON then holds only it).</param>
internal sealed record BenchOptions(bool Quick, int Reps, string Dir, string Out, bool Keep, string? Only)
{
    public static BenchOptions Parse(string[] args)
    {
        bool quick = false, keep = false;
        int? reps = null;
        string? only = null;
        string dir = Path.Combine(Path.GetTempPath(), $"kvtier-prefetchbench-{Environment.ProcessId}");
        string output = Path.Combine(FindBench(), "results");
        for (int i = 0; i < args.Length; i++)
        {
            switch (args[i])
            {
                case "--quick": quick = true; continue;
                case "--keep": keep = true; continue;
            }

            string value = i + 1 < args.Length ? args[i + 1] : throw new ArgumentException($"{args[i]} needs a value.");
            switch (args[i])
            {
                case "--reps": reps = int.Parse(value, System.Globalization.CultureInfo.InvariantCulture); i++; break;
                case "--dir": dir = Path.Combine(value, $"kvtier-prefetchbench-{Environment.ProcessId}"); i++; break;
                case "--out": output = value; i++; break;
                case "--case": only = value; i++; break;
                default: throw new ArgumentException($"Unknown option {args[i]}.");
            }
        }

        int n = reps ?? (quick ? 2 : 5);
        if (n < 1)
            throw new ArgumentException("--reps must be at least 1.");
        return new BenchOptions(quick, n, dir, output, keep, only);
    }

    private static string FindBench()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "KvTier.sln")))
                return Path.Combine(dir.FullName, "bench");
        }

        return Environment.CurrentDirectory;
    }
}
