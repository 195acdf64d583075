using KvTier.Keys;
using Microsoft.Win32.SafeHandles;

namespace KvTier.StoreBench;

/// <summary>
/// The file-per-chunk baseline, as LMCache's local disk tier stores chunks: one file per chunk in one directory,
/// named by the key, written in one call and fsync'ed per chunk; a get opens the file and reads it whole.
/// (LMCache itself does not fsync; this baseline does, so its puts are as durable as the others'.)
/// </summary>
internal sealed class FilePerChunkSystem : IStoreSystem
{
    private readonly string _directory;

    public FilePerChunkSystem(string directory)
    {
        _directory = directory;
        Directory.CreateDirectory(directory);
    }

    public string Name => "files";

    public void Put(ReadOnlySpan<BenchRecord> records)
    {
        foreach (BenchRecord record in records)
        {
            using var stream = new FileStream(PathOf(record.Key), FileMode.Create, FileAccess.Write, FileShare.None, bufferSize: 0);
            stream.Write(record.Bytes);
            stream.Flush(flushToDisk: true);
        }
    }

    public void Settle()
    {
    }

    public int Get(ChunkKey key, byte[] destination)
    {
        SafeFileHandle handle;
        try
        {
            handle = File.OpenHandle(PathOf(key));
        }
        catch (FileNotFoundException)
        {
            return -1;
        }

        using (handle)
        {
            long length = RandomAccess.GetLength(handle);
            int read = 0;
            while (read < length)
            {
                int n = RandomAccess.Read(handle, destination.AsSpan(read, (int)length - read), read);
                if (n == 0)
                    break;
                read += n;
            }

            return read;
        }
    }

    public bool Contains(ChunkKey key) => File.Exists(PathOf(key));

    public void PrepareCold()
    {
    }

    public IEnumerable<string> DataFiles() => Directory.EnumerateFiles(_directory);

    public void Dispose()
    {
    }

    private string PathOf(ChunkKey key) => Path.Combine(_directory, key + ".kvchunk");
}
