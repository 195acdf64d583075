using KvTier.Format;

namespace KvTier.Remote;

/// <summary>One K or V section of a layer-range get, its payload checked against its XXH3-64 checksum on arrival.</summary>
/// <param name="Layer">The layer.</param>
/// <param name="Kind">Keys or values.</param>
/// <param name="Checksum">The XXH3-64 of the payload, as the record's section table holds it.</param>
/// <param name="Payload">The encoded payload (decode with the record header's codec).</param>
public sealed record RemoteSection(int Layer, SectionKind Kind, ulong Checksum, ReadOnlyMemory<byte> Payload);
