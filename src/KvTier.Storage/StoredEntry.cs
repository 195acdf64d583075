using KvTier.Format;
using KvTier.Keys;

namespace KvTier.Storage;

/// <summary>One stored record, as <see cref="KvStore.Enumerate"/> lists it.</summary>
/// <param name="Key">The chunk key.</param>
/// <param name="KeyKind">Prefix or segment key.</param>
/// <param name="Codec">The record's codec id (format-spec/kvtier-format.md §2.1).</param>
/// <param name="Level">The codec level.</param>
/// <param name="TokenCount">Tokens in the chunk.</param>
/// <param name="RecordLength">Bytes of the record.</param>
/// <param name="SegmentId">The segment holding it.</param>
/// <param name="Offset">Its frame's offset in the segment.</param>
/// <param name="Sequence">The store's sequence number of the put.</param>
/// <param name="InMemory">Whether the memory tier holds a copy now.</param>
public sealed record StoredEntry(ChunkKey Key, ChunkKeyKind KeyKind, byte Codec, int Level, int TokenCount, long RecordLength, ulong SegmentId, long Offset, ulong Sequence, bool InMemory);
