namespace KvTier.Testing.Fuzz;

/// <summary>
/// Where the committed fuzz inputs are (fuzz/README.md): <c>fuzz/corpus/TARGET</c> (seeds) and
/// <c>fuzz/regressions/TARGET</c> (saved findings), found from the test's build folder inside the repository.
/// </summary>
public static class FuzzInputs
{
    /// <summary><c>fuzz/corpus/TARGET</c>: the committed seeds of a target.</summary>
    public static string CorpusDirectory(string target) => Path.Combine(RepositoryFiles.Root(), "fuzz", "corpus", target);

    /// <summary>Every seed and saved regression of a target.</summary>
    public static string[] SeedsAndRegressions(string target)
    {
        string regressions = Path.Combine(RepositoryFiles.Root(), "fuzz", "regressions", target);
        return [.. Directory.GetFiles(CorpusDirectory(target)), .. Directory.Exists(regressions) ? Directory.GetFiles(regressions) : []];
    }
}
