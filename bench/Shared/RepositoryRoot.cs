namespace KvTier.Bench.Shared;

/// <summary>Where the repository is, for a harness's default paths (bench/results, the CLI's build).</summary>
internal static class RepositoryRoot
{
    /// <summary>The nearest folder above the harness's binaries that holds KvTier.sln; else the current directory.</summary>
    public static string Find()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "KvTier.sln")))
                return dir.FullName;
        }
        return Environment.CurrentDirectory;
    }
}
