using KvTier.Keys;

namespace KvTier.Remote;

/// <summary>The answer to a layer-range get (format-spec/protocol.md §7.2): the record's header and section table, and the sections of the layers asked for, in layer order, K before V.</summary>
/// <param name="Key">The record's key.</param>
/// <param name="HeaderAndTable">The record's bytes from its start to the end of its section table (kvtier-format.md §2), as stored.</param>
/// <param name="Sections">The sections, each verified against its checksum.</param>
public sealed record RemoteLayerRange(ChunkKey Key, ReadOnlyMemory<byte> HeaderAndTable, IReadOnlyList<RemoteSection> Sections);
