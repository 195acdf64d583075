using KvTier.Testing.Records;
using Xunit;

namespace KvTier.Cli.Tests;

/// <summary>A temporary folder with record files to store and a store directory (not yet created) beside them.</summary>
internal sealed class StoreFixture : IDisposable
{
    public StoreFixture()
    {
        Root = Directory.CreateTempSubdirectory("kvtier-cli-store-").FullName;
        Store = Path.Combine(Root, "store");
    }

    public string Root { get; }

    /// <summary>The store directory.</summary>
    public string Store { get; }

    public string Segments => Path.Combine(Store, Storage.KvStore.SegmentDirectoryName);

    public string PathOf(string name) => Path.Combine(Root, name);

    /// <summary>Writes a valid raw record file for key id <paramref name="id"/> (content seeded by the id) and returns its path.</summary>
    public string WriteRecord(long id, int tokens = 4)
    {
        string path = PathOf($"record-{id}.kvt");
        File.WriteAllBytes(path, TestRecords.Create(id, tokens, contentSeed: (int)id));
        return path;
    }

    /// <summary>Runs <c>kvtier store put</c> in-process; it must succeed. Returns the keys it printed.</summary>
    public string[] Put(string[] files, params string[] options)
    {
        CliResult result = CliRunner.Run(["store", "put", Store, .. files, .. options]);
        Assert.True(result.ExitCode == 0, result.Error);
        return Lines(result.Output);
    }

    /// <summary>The segment files of the store and their total size.</summary>
    public (int Count, long Bytes) SegmentFiles()
    {
        FileInfo[] files = new DirectoryInfo(Segments).GetFiles("*.kvseg");
        return (files.Length, files.Sum(f => f.Length));
    }

    public static string[] Lines(string text) => text.ReplaceLineEndings("\n").TrimEnd('\n').Split('\n');

    public void Dispose() => Directory.Delete(Root, recursive: true);
}
