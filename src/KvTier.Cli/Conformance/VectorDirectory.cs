namespace KvTier.Cli.Conformance;

/// <summary>Finds the committed conformance vectors when <c>--vectors</c> is not given.</summary>
internal static class VectorDirectory
{
    /// <summary>The vectors folder relative to the repository root.</summary>
    public const string RelativePath = "format-spec/vectors";

    /// <summary>
    /// <c>format-spec/vectors</c> in the nearest folder, walking up from the working directory and then from the
    /// program's own folder, that holds <c>format-spec/vectors/manifest.json</c>.
    /// </summary>
    /// <exception cref="DirectoryNotFoundException">None was found; the message says where the search started.</exception>
    public static string Locate()
    {
        foreach (string start in new[] { Directory.GetCurrentDirectory(), AppContext.BaseDirectory })
        {
            for (DirectoryInfo? dir = new(start); dir is not null; dir = dir.Parent)
            {
                string candidate = Path.Combine(dir.FullName, RelativePath);
                if (File.Exists(Path.Combine(candidate, ConformanceManifest.FileName)))
                    return candidate;
            }
        }

        throw new DirectoryNotFoundException(
            $"no {RelativePath}/{ConformanceManifest.FileName} above {Directory.GetCurrentDirectory()} or {AppContext.BaseDirectory}; give --vectors DIR.");
    }
}
