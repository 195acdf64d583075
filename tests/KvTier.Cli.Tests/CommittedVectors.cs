namespace KvTier.Cli.Tests;

/// <summary>Where the committed conformance vectors are: format-spec/vectors in the repository these tests were built from.</summary>
internal static class CommittedVectors
{
    public static string Directory { get; } = Locate();

    private static string Locate()
    {
        for (DirectoryInfo? dir = new(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            string candidate = Path.Combine(dir.FullName, "format-spec", "vectors");
            if (File.Exists(Path.Combine(candidate, "manifest.json")))
                return candidate;
        }

        throw new DirectoryNotFoundException($"format-spec/vectors/manifest.json not found above {AppContext.BaseDirectory}.");
    }
}
