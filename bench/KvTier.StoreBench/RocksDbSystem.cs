using KvTier.Keys;
using RocksDbSharp;

namespace KvTier.StoreBench;

/// <summary>
/// RocksDB with each whole record as the value under its 32-byte key: plain (values in the SSTs, after the WAL and
/// a memtable flush) or with blob files (values of 4 KiB and more go to .blob files at flush; the SST keeps a
/// pointer). Puts are write batches with sync (WAL fsync'ed before the batch is acknowledged). Tuned as one would
/// for point lookups of large values: no compression (fp16 KV does not compress), 128 MiB memtables, a 10-bit
/// Bloom filter, a 64 MiB block cache that benchmark reads do not fill, so reads go through the page cache as the
/// other systems' do.
/// </summary>
internal sealed class RocksDbSystem : IStoreSystem
{
    private readonly string _directory;
    private readonly bool _blobs;
    private readonly DbOptions _options;
    private readonly BlockBasedTableOptions _table;
    private readonly WriteOptions _sync = new WriteOptions().SetSync(true);
    private readonly ReadOptions _read = new ReadOptions().SetFillCache(false);
    private RocksDb _db;

    public RocksDbSystem(string directory, bool blobs)
    {
        _directory = directory;
        _blobs = blobs;
        _table = new BlockBasedTableOptions()
            .SetFilterPolicy(BloomFilterPolicy.Create(10, false))
            .SetBlockCache(Cache.CreateLru(64UL << 20));
        _options = new DbOptions()
            .SetCreateIfMissing(true)
            .SetCompression(Compression.No)
            .SetWriteBufferSize(128UL << 20)
            .IncreaseParallelism(Environment.ProcessorCount)
            .SetBlockBasedTableFactory(_table);
        if (blobs)
        {
            // RocksDbSharp has no managed setters for the integrated BlobDB options; the C API has.
            Native.Instance.rocksdb_options_set_enable_blob_files(_options.Handle, 1);
            Native.Instance.rocksdb_options_set_min_blob_size(_options.Handle, 4096);
        }

        _db = RocksDb.Open(_options, directory);
    }

    public string Name => _blobs ? "rocksdb-blob" : "rocksdb";

    public void Put(ReadOnlySpan<BenchRecord> records)
    {
        using var batch = new WriteBatch();
        Span<byte> key = stackalloc byte[ChunkKey.Size];
        foreach (BenchRecord record in records)
        {
            record.Key.CopyTo(key);
            batch.Put(key, record.Bytes);
        }

        _db.Write(batch, _sync);
    }

    public void Settle()
    {
        _db.Flush(new FlushOptions().SetWaitForFlush(true));
    }

    public unsafe int Get(ChunkKey key, byte[] destination)
    {
        // The C API's pinned get: the value stays in RocksDB's read buffer (or block) and is copied once, into the
        // caller's buffer, as a C++ caller with a PinnableSlice would do; RocksDbSharp's Get(key, buffer) copies twice.
        Span<byte> bytes = stackalloc byte[ChunkKey.Size];
        key.CopyTo(bytes);
        IntPtr slice;
        fixed (byte* k = bytes)
            slice = Native.Instance.rocksdb_get_pinned(_db.Handle, _read.Handle, k, (UIntPtr)ChunkKey.Size);
        if (slice == IntPtr.Zero)
            return -1;
        try
        {
            // SAFETY: value points into the pinned slice, valid until it is destroyed below.
            IntPtr value = Native.Instance.rocksdb_pinnableslice_value(slice, out UIntPtr length);
            new ReadOnlySpan<byte>((void*)value, (int)length).CopyTo(destination);
            return (int)length;
        }
        finally
        {
            Native.Instance.rocksdb_pinnableslice_destroy(slice);
        }
    }

    public bool Contains(ChunkKey key)
    {
        Span<byte> bytes = stackalloc byte[ChunkKey.Size];
        key.CopyTo(bytes);
        return _db.HasKey(bytes, null, _read);
    }

    public void PrepareCold()
    {
        // RocksDB reads with pread (no mmap by default); its table readers keep index and filter blocks in memory,
        // which is how it would run. Reopen anyway so nothing of this process's earlier reads is held.
        _db.Dispose();
        _db = RocksDb.Open(_options, _directory);
    }

    public IEnumerable<string> DataFiles() =>
        Directory.EnumerateFiles(_directory).Where(f => f.EndsWith(".sst", StringComparison.Ordinal) || f.EndsWith(".blob", StringComparison.Ordinal));

    public void Dispose() => _db.Dispose();
}
