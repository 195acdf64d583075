namespace KvTier.Storage.Tests;

/// <summary>A fresh directory under the temp folder, deleted on dispose.</summary>
internal sealed class StoreDirectory : IDisposable
{
    public StoreDirectory()
    {
        Path = System.IO.Path.Combine(System.IO.Path.GetTempPath(), "kvtier-store-tests", Guid.NewGuid().ToString("n"));
        Directory.CreateDirectory(Path);
    }

    public string Path { get; }

    public string Segments => System.IO.Path.Combine(Path, KvStore.SegmentDirectoryName);

    public string Index => System.IO.Path.Combine(Path, KvStore.IndexDirectoryName);

    public KvStoreOptions Options(long memory = 0, long disk = 1L << 30, long segment = 1L << 20) => OptionsFor(Path, memory, disk, segment);

    /// <summary>Small segments and no syncs (the tests that need syncs say so), for a store in <paramref name="path"/>.</summary>
    public static KvStoreOptions OptionsFor(string path, long memory = 0, long disk = 1L << 30, long segment = 1L << 20) => new()
    {
        Directory = path,
        MemoryCapacityBytes = memory,
        DiskCapacityBytes = disk,
        SegmentSizeBytes = segment,
        MaxRecordBytes = Math.Min(segment / 2, 1L << 30),
        Durability = DurabilityMode.NoSync,
    };

    /// <summary>The segment files now, in id order.</summary>
    public string[] SegmentFiles() => [.. Directory.GetFiles(Segments, "*" + KvTier.Storage.Segments.SegmentFormat.FileExtension).Order(StringComparer.Ordinal)];

    /// <summary>Makes this directory a copy of <paramref name="source"/> (a closed store).</summary>
    public void CopyFrom(string source)
    {
        foreach (string directory in Directory.GetDirectories(source, "*", SearchOption.AllDirectories))
            Directory.CreateDirectory(System.IO.Path.Combine(Path, System.IO.Path.GetRelativePath(source, directory)));
        foreach (string file in Directory.GetFiles(source, "*", SearchOption.AllDirectories))
            File.Copy(file, System.IO.Path.Combine(Path, System.IO.Path.GetRelativePath(source, file)), overwrite: true);
    }

    public void Dispose()
    {
        try
        {
            Directory.Delete(Path, recursive: true);
        }
        catch (IOException)
        {
        }
    }
}
