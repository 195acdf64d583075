using KvTier.Keys;
using KvTier.Storage.Index;

namespace KvTier.Storage;

/// <summary>The store's in-memory view of one indexed record: its index entry and its place in the LRU list.</summary>
/// <remarks>Guarded by the store's lock.</remarks>
internal sealed class DiskRecord
{
    public DiskRecord(ChunkKey key, ChunkEntry entry)
    {
        Key = key;
        Entry = entry;
    }

    public ChunkKey Key { get; }

    public ChunkEntry Entry { get; set; }

    // Intrusive doubly linked LRU list (least recent at the head): no node object per record.
    public DiskRecord? Older { get; set; }

    public DiskRecord? Newer { get; set; }

    public bool AccessDirty { get; set; }
}

/// <summary>An intrusive LRU list of <see cref="DiskRecord"/>s. Guarded by the store's lock.</summary>
internal sealed class LruList
{
    public DiskRecord? Oldest { get; private set; }

    public DiskRecord? Newest { get; private set; }

    public void AddNewest(DiskRecord record)
    {
        record.Older = Newest;
        record.Newer = null;
        if (Newest is not null)
            Newest.Newer = record;
        Newest = record;
        Oldest ??= record;
    }

    public void Remove(DiskRecord record)
    {
        if (record.Older is not null)
            record.Older.Newer = record.Newer;
        else if (Oldest == record)
            Oldest = record.Newer;
        if (record.Newer is not null)
            record.Newer.Older = record.Older;
        else if (Newest == record)
            Newest = record.Older;
        record.Older = record.Newer = null;
    }

    public void Touch(DiskRecord record)
    {
        if (Newest == record)
            return;
        Remove(record);
        AddNewest(record);
    }
}
