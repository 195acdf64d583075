using KvTier.Reference;

namespace KvTier.Testing;

/// <summary>
/// Whether the stories260K files can be found, decided once per process, and the skip reason when they cannot.
/// Under CI (<c>CI=true</c>) model tests never skip: a missing model must fail the build, not hide it.
/// </summary>
public static class ModelAvailability
{
    private static readonly Lazy<(bool Found, string Root, IReadOnlyList<string> Searched)> Probe = new(() =>
    {
        bool found = ModelDirectory.TryLocate(null, out string root, out IReadOnlyList<string> searched);
        return (found, root, searched);
    });

    /// <summary>True when the environment variable <c>CI</c> is <c>true</c>.</summary>
    public static bool RunningInCi =>
        string.Equals(Environment.GetEnvironmentVariable("CI"), "true", StringComparison.OrdinalIgnoreCase);

    /// <summary>True when the models root was found.</summary>
    public static bool Found => Probe.Value.Found;

    /// <summary>The reason to skip a model test, or null when it should run (model found, or running under CI).</summary>
    public static string? SkipReason
    {
        get
        {
            if (Found || RunningInCi)
                return null;
            return $"{ModelDirectory.DefaultModelName} model files not found (looked in: {string.Join(", ", Probe.Value.Searched)}); set {ModelDirectory.EnvironmentVariable}";
        }
    }
}
