namespace KvTier.Reference;

/// <summary>
/// Finds the models root: the directory that holds <c>stories260K/</c>. Model files are data, kept
/// outside the repository (in <c>../shared/models</c> next to the repository root, or wherever
/// <c>KVTIER_MODELS</c> points), so tests, benchmarks and the CLI all locate them the same way.
/// </summary>
/// <remarks>Stateless; safe to call from any thread. Reads the environment and the file system on every call.</remarks>
public static class ModelDirectory
{
    /// <summary>Name of the model every KvTier test and demo uses by default.</summary>
    public const string DefaultModelName = "stories260K";

    /// <summary>Environment variable that names the models root.</summary>
    public const string EnvironmentVariable = "KVTIER_MODELS";

    /// <summary>
    /// Returns the models root: <paramref name="explicitDirectory"/> when given; else the directory in
    /// <c>KVTIER_MODELS</c> when set; else the first <c>A/shared/models</c>, for every ancestor A (itself included)
    /// of the current directory and of the application's base directory, that contains
    /// <c>stories260K/stories260K.bin</c>. A directory the user named (argument or variable) must hold the model:
    /// it is never silently passed over for another one.
    /// </summary>
    /// <param name="explicitDirectory">A directory given by the user (for example <c>--models DIR</c>); null or empty when none.</param>
    /// <returns>The full path of the models root.</returns>
    /// <exception cref="ModelNotFoundException">No candidate holds the model; the message lists every place looked at.</exception>
    public static string Locate(string? explicitDirectory = null) =>
        Locate(explicitDirectory, Environment.GetEnvironmentVariable(EnvironmentVariable), DefaultWalkStarts());

    /// <summary>
    /// Like <see cref="Locate(string?)"/>, but reports failure as a return value.
    /// </summary>
    /// <param name="explicitDirectory">A directory given by the user; null or empty when none.</param>
    /// <param name="path">The full path of the models root when found; empty otherwise.</param>
    /// <param name="searched">Every candidate examined, in order (up to and including the one found).</param>
    /// <returns>True when a models root was found.</returns>
    public static bool TryLocate(string? explicitDirectory, out string path, out IReadOnlyList<string> searched) =>
        TryLocate(explicitDirectory, Environment.GetEnvironmentVariable(EnvironmentVariable), DefaultWalkStarts(), out path, out searched);

    /// <summary>The search with its inputs made explicit, so that tests do not depend on where they run.</summary>
    internal static string Locate(string? explicitDirectory, string? environmentValue, IReadOnlyList<string> walkStarts)
    {
        if (TryLocate(explicitDirectory, environmentValue, walkStarts, out string path, out IReadOnlyList<string> searched))
            return path;
        throw new ModelNotFoundException(
            $"{DefaultModelName} model files ({DefaultModelName}/{DefaultModelName}.bin) not found; looked in: "
            + (searched.Count == 0 ? "(nowhere)" : string.Join(", ", searched))
            + $"; set {EnvironmentVariable} or pass --models DIR",
            searched);
    }

    /// <summary>The search with its inputs made explicit, so that tests do not depend on where they run.</summary>
    internal static bool TryLocate(
        string? explicitDirectory,
        string? environmentValue,
        IReadOnlyList<string> walkStarts,
        out string path,
        out IReadOnlyList<string> searched)
    {
        var tried = new List<string>();
        var seen = new HashSet<string>(StringComparer.Ordinal);
        searched = tried;
        path = string.Empty;

        foreach (string candidate in Candidates(explicitDirectory, environmentValue, walkStarts))
        {
            string full;
            try
            {
                full = Path.GetFullPath(candidate);
            }
            catch (Exception e) when (e is ArgumentException or NotSupportedException or PathTooLongException)
            {
                continue; // an unusable path (bad characters) is simply not a candidate
            }

            full = Path.TrimEndingDirectorySeparator(full);
            if (!seen.Add(full))
                continue;
            tried.Add(full);
            if (File.Exists(Path.Combine(full, DefaultModelName, DefaultModelName + ".bin")))
            {
                path = full;
                return true;
            }
        }

        return false;
    }

    private static IEnumerable<string> Candidates(string? explicitDirectory, string? environmentValue, IReadOnlyList<string> walkStarts)
    {
        if (!string.IsNullOrWhiteSpace(explicitDirectory))
        {
            yield return explicitDirectory;
            yield break;
        }

        if (!string.IsNullOrWhiteSpace(environmentValue))
        {
            yield return environmentValue;
            yield break;
        }

        foreach (string start in walkStarts)
        {
            if (string.IsNullOrWhiteSpace(start))
                continue;
            DirectoryInfo? directory;
            try
            {
                directory = new DirectoryInfo(start);
            }
            catch (Exception e) when (e is ArgumentException or NotSupportedException or PathTooLongException)
            {
                continue;
            }

            for (; directory is not null; directory = directory.Parent)
                yield return Path.Combine(directory.FullName, "shared", "models");
        }
    }

    private static string[] DefaultWalkStarts() => [Environment.CurrentDirectory, AppContext.BaseDirectory];
}
