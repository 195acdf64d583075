using KvTier.Testing;

namespace KvTier.Cli.Tests;

/// <summary>Where the committed conformance vectors are: format-spec/vectors in the repository these tests were built from.</summary>
internal static class CommittedVectors
{
    public static string Directory { get; } = RepositoryFiles.ConformanceVectors();
}
