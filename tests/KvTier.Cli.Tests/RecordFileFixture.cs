using KvTier.Layout;
using KvTier.Reference;
using Xunit;

namespace KvTier.Cli.Tests;

/// <summary>A temporary folder with a synthetic KV-cache file and helpers to encode it with the command.</summary>
internal sealed class RecordFileFixture : IDisposable
{
    public RecordFileFixture(KvElementType type = KvElementType.Float32, int tokens = 11)
    {
        Directory = System.IO.Directory.CreateTempSubdirectory("kvtier-cli-records-").FullName;
        KvPath = Path.Combine(Directory, "input.safetensors");
        Input = SyntheticKvFiles.Write(KvPath, SyntheticKvFiles.Layout(type), tokens);
    }

    public string Directory { get; }

    public string KvPath { get; }

    public KvCacheFileContents Input { get; }

    public string PathOf(string name) => Path.Combine(Directory, name);

    /// <summary>Runs <c>kvtier encode</c> and returns the record's path; the run must succeed.</summary>
    public string Encode(string name, params string[] options)
    {
        string path = PathOf(name);
        CliResult result = CliRunner.Run(["encode", "--in", KvPath, "--out", path, .. options]);
        Assert.True(result.ExitCode == 0, result.Error);
        return path;
    }

    public void Dispose() => System.IO.Directory.Delete(Directory, recursive: true);
}
