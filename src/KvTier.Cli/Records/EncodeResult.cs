using KvTier.Format.Codecs;
using KvTier.Keys;
using KvTier.Layout;

namespace KvTier.Cli.Records;

/// <summary>What <see cref="ChunkFiles.Encode"/> wrote.</summary>
/// <param name="Path">The record file, full path.</param>
/// <param name="Codec">The codec.</param>
/// <param name="Level">The codec level.</param>
/// <param name="Layout">The KV layout.</param>
/// <param name="Tokens">Tokens in the record.</param>
/// <param name="Key">The record's prefix key.</param>
/// <param name="Elements">K and V elements over every layer: 2 × layers × tokens × KV width.</param>
/// <param name="RecordBytes">Length of the record file.</param>
/// <param name="RoundedValues">Input values that the element type could not hold exactly (0 for f32).</param>
internal sealed record EncodeResult(string Path, CodecInfo Codec, int Level, KvLayout Layout, int Tokens, ChunkKey Key, long Elements, long RecordBytes, long RoundedValues)
{
    /// <summary>What the same KV takes as binary32.</summary>
    public long RawFloat32Bytes => 4 * Elements;

    /// <summary>Record bits per K or V element, header and table included.</summary>
    public double BitsPerElement => 8.0 * RecordBytes / Elements;
}
