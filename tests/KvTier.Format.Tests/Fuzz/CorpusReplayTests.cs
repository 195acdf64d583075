using KvTier.Fuzz;
using KvTier.Testing;
using Xunit;

namespace KvTier.Format.Tests.Fuzz;

/// <summary>
/// Replays the <c>chunk-record</c> fuzz inputs kept in the repository through the fuzz target's own check
/// (<see cref="ChunkRecordFuzzCheck"/>, which fuzz/KvTier.Fuzz links): the seed corpus, which must stay valid, and the
/// saved crash inputs, which must only ever be rejected with <see cref="ChunkRecordException"/> or accepted cleanly.
/// </summary>
public sealed class CorpusReplayTests
{
    private const string Regenerate =
        "dotnet fuzz/KvTier.Fuzz/bin/Release/net10.0/kvtier-fuzz.dll seeds chunk-record fuzz/corpus/chunk-record (after dotnet build fuzz/KvTier.Fuzz -c Release)";

    [Fact]
    public void SeedCorpusIsAcceptedAndKeepsEveryInvariant()
    {
        string[] files = InputFiles("corpus");
        Assert.True(files.Length > 0, $"fuzz/corpus/chunk-record holds no seeds; write them with {Regenerate}.");
        var failures = new List<string>();
        foreach (string file in files)
        {
            try
            {
                (ChunkRecordErrorKind? asIs, _) = ChunkRecordFuzzCheck.Run(File.ReadAllBytes(file));
                if (asIs is not null)
                    failures.Add($"{Path.GetFileName(file)}: rejected as {asIs}; the seeds must be valid records (rewrite them with {Regenerate}).");
            }
            catch (Exception e)
            {
                failures.Add($"{Path.GetFileName(file)}: {e}");
            }
        }

        if (failures.Count > 0)
            Assert.Fail(string.Join(Environment.NewLine + Environment.NewLine, failures));
    }

    [Fact]
    public void SavedCrashInputsFailOnlyAsChunkRecordErrors()
    {
        var failures = new List<string>();
        foreach (string file in InputFiles("regressions"))
        {
            try
            {
                ChunkRecordFuzzCheck.Run(File.ReadAllBytes(file));
            }
            catch (Exception e)
            {
                failures.Add($"{Path.GetFileName(file)}: {e}");
            }
        }

        if (failures.Count > 0)
            Assert.Fail(string.Join(Environment.NewLine + Environment.NewLine, failures));
    }

    // Every input under fuzz/FOLDER/chunk-record, in a stable order; README files describe the folder and are not inputs.
    private static string[] InputFiles(string folder)
    {
        string directory = Path.Combine(RepositoryFiles.Root(), "fuzz", folder, "chunk-record");
        Assert.True(Directory.Exists(directory),
            $"{directory} is missing. It is part of the repository (fuzz/README.md): restore it from version control rather than deleting the test.");
        string[] files = Directory.GetFiles(directory, "*", SearchOption.AllDirectories)
            .Where(f => !Path.GetFileName(f).StartsWith("README", StringComparison.OrdinalIgnoreCase))
            .ToArray();
        Array.Sort(files, StringComparer.Ordinal);
        return files;
    }
}
