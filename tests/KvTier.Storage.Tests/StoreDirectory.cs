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

    public KvStoreOptions Options(long memory = 0, long disk = 1L << 30, long segment = 1L << 20) => new()
    {
        Directory = Path,
        MemoryCapacityBytes = memory,
        DiskCapacityBytes = disk,
        SegmentSizeBytes = segment,
        MaxRecordBytes = Math.Min(segment / 2, 1L << 30),
        Durability = DurabilityMode.NoSync,
    };

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
