namespace KvTier.Testing.Fuzz;

/// <summary>
/// Where the committed fuzz inputs are (fuzz/README.md): <c>fuzz/corpus/TARGET</c> (seeds) and
/// <c>fuzz/regressions/TARGET</c> (saved findings), found from the test's build folder inside the repository.
/// </summary>
public static class FuzzInputs
{
    /// <summary>The repository root: the first directory above the running test that holds KvTier.sln.</summary>
    /// <exception cref="DirectoryNotFoundException">The test does not run from a build inside the repository.</exception>
    public static string RepositoryRoot()
    {
        for (DirectoryInfo? d = new(AppContext.BaseDirectory); d is not null; d = d.Parent)
        {
            if (File.Exists(Path.Combine(d.FullName, "KvTier.sln")))
                return d.FullName;
        }
        throw new DirectoryNotFoundException($"No directory above {AppContext.BaseDirectory} holds KvTier.sln; the test must run from a build inside the repository.");
    }

    /// <summary><c>fuzz/corpus/TARGET</c>: the committed seeds of a target.</summary>
    public static string CorpusDirectory(string target) => Path.Combine(RepositoryRoot(), "fuzz", "corpus", target);

    /// <summary>Every seed and saved regression of a target.</summary>
    public static string[] SeedsAndRegressions(string target)
    {
        string regressions = Path.Combine(RepositoryRoot(), "fuzz", "regressions", target);
        return [.. Directory.GetFiles(CorpusDirectory(target)), .. Directory.Exists(regressions) ? Directory.GetFiles(regressions) : []];
    }
}
