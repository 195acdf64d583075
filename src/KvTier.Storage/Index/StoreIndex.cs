using System.Buffers.Binary;
using System.Text;
using KvTier.Keys;
using RocksDbSharp;

namespace KvTier.Storage.Index;

/// <summary>
/// The RocksDB index of a store (format-spec/metadata-schema.md): column families <c>chunks</c>, <c>segments</c> and
/// <c>meta</c>, changed only through atomic write batches.
/// </summary>
/// <remarks>RocksDB is thread-safe for reads and writes; the store serializes writes through its writer.</remarks>
internal sealed class StoreIndex : IDisposable
{
    public const string ChunksFamily = "chunks";
    public const string SegmentsFamily = "segments";
    public const string MetaFamily = "meta";

    /// <summary>Index schema version (metadata-schema.md §4).</summary>
    public const ushort SchemaVersion = 1;

    private static readonly byte[] FormatKey = Encoding.ASCII.GetBytes("format");
    private static readonly byte[] StoreIdKey = Encoding.ASCII.GetBytes("store-id");
    private static readonly byte[] SequenceKey = Encoding.ASCII.GetBytes("sequence");
    private static readonly byte[] AccessTickKey = Encoding.ASCII.GetBytes("access-tick");
    private static readonly byte[] CountersKey = Encoding.ASCII.GetBytes("counters");

    private readonly RocksDb _db;
    private readonly ColumnFamilyHandle _chunks;
    private readonly ColumnFamilyHandle _segments;
    private readonly ColumnFamilyHandle _meta;
    private readonly WriteOptions _syncWrite = new WriteOptions().SetSync(true);
    private readonly WriteOptions _noSyncWrite = new WriteOptions().SetSync(false);

    private StoreIndex(RocksDb db, string path)
    {
        _db = db;
        Path = path;
        _chunks = db.GetColumnFamily(ChunksFamily);
        _segments = db.GetColumnFamily(SegmentsFamily);
        _meta = db.GetColumnFamily(MetaFamily);
    }

    public string Path { get; }

    /// <summary>Opens (or creates) the index at <paramref name="path"/>.</summary>
    /// <exception cref="KvStoreException"><see cref="StoreErrorKind.IndexDamaged"/> when RocksDB cannot open it.</exception>
    public static StoreIndex Open(string path, bool create)
    {
        var options = new DbOptions()
            .SetCreateIfMissing(create)
            .SetCreateMissingColumnFamilies(create)
            .SetParanoidChecks(true)
            // A checksum mismatch inside the WAL is damage, not a torn last write: refuse to open (IndexDamaged, then
            // repair) instead of RocksDB's default of silently dropping every commit after it, which made recovery
            // delete the segment files those commits had created.
            .SetWalRecoveryMode(Recovery.TolerateCorruptedTailRecords)
            .SetKeepLogFileNum(2)
            .SetMaxManifestFileSize(64L << 20);
        var families = new ColumnFamilies
        {
            { ChunksFamily, new ColumnFamilyOptions().OptimizeForPointLookup(64) },
            { SegmentsFamily, new ColumnFamilyOptions() },
            { MetaFamily, new ColumnFamilyOptions() },
        };
        try
        {
            return new StoreIndex(RocksDb.Open(options, path, families), path);
        }
        catch (RocksDbException ex)
        {
            throw new KvStoreException(StoreErrorKind.IndexDamaged,
                $"the index at {path} cannot be opened ({ex.Message.Trim()}); `kvtier repair {System.IO.Path.GetDirectoryName(path)}` rebuilds it from the segment files.", ex);
        }
    }

    public (ushort Version, ushort MinReader)? ReadFormat()
    {
        byte[]? value = Get(FormatKey, _meta);
        if (value is null)
            return null;
        if (value.Length != 4)
            throw Damaged("meta/format is not 4 bytes");
        return (BinaryPrimitives.ReadUInt16LittleEndian(value), BinaryPrimitives.ReadUInt16LittleEndian(value.AsSpan(2)));
    }

    public Guid? ReadStoreId()
    {
        byte[]? value = Get(StoreIdKey, _meta);
        if (value is null)
            return null;
        if (value.Length != 16)
            throw Damaged("meta/store-id is not 16 bytes");
        return new Guid(value);
    }

    public ulong ReadSequence() => ReadU64(SequenceKey);

    public ulong ReadAccessTick() => ReadU64(AccessTickKey);

    /// <summary>The lifetime counters (metadata-schema.md §4): a count n, then n signed 64-bit values; absent means zero.</summary>
    public StoreCounters ReadCounters()
    {
        byte[]? value = Get(CountersKey, _meta);
        if (value is null)
            return StoreCounters.Zero;
        if (value.Length < 8 || BinaryPrimitives.ReadInt64LittleEndian(value) is var n && (n < 0 || n > 1024 || value.Length != 8 + 8 * n))
            throw Damaged("meta/counters is malformed");
        var values = new long[n];
        for (int i = 0; i < n; i++)
            values[i] = BinaryPrimitives.ReadInt64LittleEndian(value.AsSpan(8 + 8 * i));
        return StoreCounters.FromArray(values);
    }

    private ulong ReadU64(byte[] key)
    {
        byte[]? value = Get(key, _meta);
        if (value is null)
            return 0;
        if (value.Length != 8)
            throw Damaged($"meta/{Encoding.ASCII.GetString(key)} is not 8 bytes");
        return BinaryPrimitives.ReadUInt64LittleEndian(value);
    }

    /// <summary>Every chunk entry, in key order.</summary>
    /// <exception cref="KvStoreException">An entry is malformed: the index is damaged.</exception>
    public IEnumerable<(ChunkKey Key, ChunkEntry Entry)> ReadChunks()
    {
        using Iterator it = _db.NewIterator(_chunks);
        for (it.SeekToFirst(); it.Valid(); it.Next())
        {
            byte[] key = it.Key();
            if (key.Length != ChunkKey.Size || ChunkEntry.TryRead(it.Value()) is not { } entry)
                throw Damaged($"chunk entry {Convert.ToHexStringLower(key)} is malformed");
            yield return (ChunkKey.FromBytes(key), entry);
        }
        ThrowIfFailed(it, ChunksFamily);
    }

    /// <summary>Every segment entry, in id order.</summary>
    public IEnumerable<(ulong Id, SegmentEntry Entry)> ReadSegments()
    {
        using Iterator it = _db.NewIterator(_segments);
        for (it.SeekToFirst(); it.Valid(); it.Next())
        {
            byte[] key = it.Key();
            if (key.Length != 8 || SegmentEntry.TryRead(it.Value()) is not { } entry)
                throw Damaged($"segment entry {Convert.ToHexStringLower(key)} is malformed");
            yield return (BinaryPrimitives.ReadUInt64BigEndian(key), entry);
        }
        ThrowIfFailed(it, SegmentsFamily);
    }

    /// <summary>A chunk's entry read straight from RocksDB (verification and tests; the store serves lookups from memory).</summary>
    public ChunkEntry? GetChunk(ChunkKey key)
    {
        byte[]? value = Get(key.ToArray(), _chunks);
        return value is null ? null : ChunkEntry.TryRead(value) ?? throw Damaged($"chunk entry {key} is malformed");
    }

    public Batch CreateBatch() => new(this);

    public void Commit(Batch batch, bool sync)
    {
        try
        {
            _db.Write(batch.WriteBatch, sync ? _syncWrite : _noSyncWrite);
        }
        catch (RocksDbException ex)
        {
            throw new KvStoreException(StoreErrorKind.Io, $"the index write to {Path} failed: {ex.Message.Trim()}", ex);
        }
    }

    public void Dispose() => _db.Dispose();

    private byte[]? Get(byte[] key, ColumnFamilyHandle family)
    {
        try
        {
            return _db.Get(key, family);
        }
        catch (RocksDbException ex)
        {
            throw Damaged($"a read failed ({ex.Message.Trim()})");
        }
    }

    /// <summary>
    /// An iterator that meets a damaged block stops as if at the end (Valid() turns false); only its error tells the
    /// two apart. Unchecked, a damaged block silently dropped every entry after it (and recovery then deleted the
    /// segment files the lost segment entries named).
    /// </summary>
    private void ThrowIfFailed(Iterator iterator, string family)
    {
        try
        {
            Native.Instance.rocksdb_iter_get_error(iterator.Handle);
        }
        catch (RocksDbException ex)
        {
            throw Damaged($"reading {family} failed ({ex.Message.Trim()})");
        }
    }

    private KvStoreException Damaged(string what) =>
        new(StoreErrorKind.IndexDamaged, $"the index at {Path} is damaged: {what}; `kvtier repair {System.IO.Path.GetDirectoryName(Path)}` rebuilds it from the segment files.");

    /// <summary>One atomic index change.</summary>
    public sealed class Batch : IDisposable
    {
        private readonly StoreIndex _index;

        internal Batch(StoreIndex index)
        {
            _index = index;
        }

        internal WriteBatch WriteBatch { get; } = new();

        public int Count { get; private set; }

        public void PutChunk(ChunkKey key, in ChunkEntry entry)
        {
            WriteBatch.Put(key.ToArray(), entry.ToArray(), _index._chunks);
            Count++;
        }

        public void DeleteChunk(ChunkKey key)
        {
            WriteBatch.Delete(key.ToArray(), _index._chunks);
            Count++;
        }

        public void PutSegment(ulong id, in SegmentEntry entry)
        {
            WriteBatch.Put(SegmentEntry.Key(id), entry.ToArray(), _index._segments);
            Count++;
        }

        public void DeleteSegment(ulong id)
        {
            WriteBatch.Delete(SegmentEntry.Key(id), _index._segments);
            Count++;
        }

        public void PutFormat(ushort version, ushort minReader)
        {
            byte[] value = new byte[4];
            BinaryPrimitives.WriteUInt16LittleEndian(value, version);
            BinaryPrimitives.WriteUInt16LittleEndian(value.AsSpan(2), minReader);
            WriteBatch.Put(FormatKey, value, _index._meta);
            Count++;
        }

        public void PutStoreId(Guid storeId)
        {
            WriteBatch.Put(StoreIdKey, storeId.ToByteArray(), _index._meta);
            Count++;
        }

        public void PutSequence(ulong sequence) => PutU64(SequenceKey, sequence);

        public void PutCounters(StoreCounters counters)
        {
            long[] values = counters.ToArray();
            byte[] bytes = new byte[8 + 8 * values.Length];
            BinaryPrimitives.WriteInt64LittleEndian(bytes, values.Length);
            for (int i = 0; i < values.Length; i++)
                BinaryPrimitives.WriteInt64LittleEndian(bytes.AsSpan(8 + 8 * i), values[i]);
            WriteBatch.Put(CountersKey, bytes, _index._meta);
            Count++;
        }

        public void PutAccessTick(ulong tick) => PutU64(AccessTickKey, tick);

        private void PutU64(byte[] key, ulong value)
        {
            byte[] bytes = new byte[8];
            BinaryPrimitives.WriteUInt64LittleEndian(bytes, value);
            WriteBatch.Put(key, bytes, _index._meta);
            Count++;
        }

        public void Dispose() => WriteBatch.Dispose();
    }
}
