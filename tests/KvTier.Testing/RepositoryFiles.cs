namespace KvTier.Testing;

/// <summary>Committed files the tests read, found from the test's build folder inside the repository.</summary>
public static class RepositoryFiles
{
    /// <summary>The repository root: the first directory above the running test that holds KvTier.sln.</summary>
    /// <exception cref="DirectoryNotFoundException">The test does not run from a build inside the repository.</exception>
    public static string Root()
    {
        for (DirectoryInfo? d = new(AppContext.BaseDirectory); d is not null; d = d.Parent)
        {
            if (File.Exists(Path.Combine(d.FullName, "KvTier.sln")))
                return d.FullName;
        }
        throw new DirectoryNotFoundException($"No directory above {AppContext.BaseDirectory} holds KvTier.sln; the test must run from a build inside the repository.");
    }

    /// <summary>format-spec/vectors, the committed conformance vectors.</summary>
    /// <exception cref="DirectoryNotFoundException">Its manifest.json is missing.</exception>
    public static string ConformanceVectors()
    {
        string directory = Path.Combine(Root(), "format-spec", "vectors");
        if (!File.Exists(Path.Combine(directory, "manifest.json")))
            throw new DirectoryNotFoundException($"{directory}/manifest.json not found: the conformance vectors are part of the repository.");
        return directory;
    }
}
