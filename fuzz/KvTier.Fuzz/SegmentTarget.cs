using KvTier.Keys;
using KvTier.Storage;
using KvTier.Storage.Segments;
using KvTier.Storage.Tests.Fuzz;

namespace KvTier.Fuzz;

/// <summary>
/// Fuzzes the segment file reader (format-spec/segment-file.md): header, frame walk with resynchronization, record
/// trailers, tombstone frames, and the index value readers, through <see cref="SegmentFuzzCheck"/>.
/// </summary>
internal static class SegmentTarget
{
    public static readonly FuzzTarget Target = new(SegmentFuzzCheck.Run, Seeds);

    private static IEnumerable<(string, byte[])> Seeds()
    {
        // A real store's segment: a few records (one replaced), a delete, written by KvStore itself.
        string dir = Path.Combine(Path.GetTempPath(), $"kvtier-segment-seeds-{Environment.ProcessId}");
        try
        {
            using (var store = KvStore.Open(new KvStoreOptions { Directory = dir, MemoryCapacityBytes = 0, SegmentSizeBytes = 1 << 20, Durability = DurabilityMode.NoSync, BackgroundCompaction = false }))
            {
                for (int i = 0; i < 3; i++)
                    store.Put(SeedRecords.Create(i, tokens: 1 + i));
                store.Put(SeedRecords.Create(1, tokens: 2, contentSeed: 9));
                store.Delete(SeedRecords.Key(0));
            }
            string segment = Directory.GetFiles(Path.Combine(dir, KvStore.SegmentDirectoryName), "*" + SegmentFormat.FileExtension).Order().First();
            byte[] bytes = File.ReadAllBytes(segment);
            yield return ("store-segment.bin", bytes);
            yield return ("header-only.bin", bytes[..SegmentFormat.HeaderSize]);
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    /// <summary>Small valid records (the fuzz project does not reference the test infrastructure).</summary>
    private static class SeedRecords
    {
        public static ChunkKey Key(int id) => ChunkKey.FromBytes(System.Security.Cryptography.SHA256.HashData(BitConverter.GetBytes(id)));

        public static byte[] Create(int id, int tokens, int contentSeed = 0)
        {
            var layout = new Layout.KvLayout(1, 1, 8, Layout.KvElementType.Float16, new Layout.RopeParameters(10000, 8, Layout.RopePairing.AdjacentPairs), keysStoredAfterRope: true);
            var chunk = new Format.KvChunk(layout, tokens);
            var random = new Random(contentSeed);
            float[] values = new float[tokens * layout.KvDim];
            for (int i = 0; i < values.Length; i++)
                values[i] = random.NextSingle();
            chunk.SetSingle(0, Format.SectionKind.Keys, values);
            chunk.SetSingle(0, Format.SectionKind.Values, values);
            var metadata = new Format.ChunkRecordMetadata(ModelFingerprint.Compute("seed", layout), Key(id));
            return Format.ChunkRecordWriter.Encode(chunk, metadata, Format.Codecs.CodecId.Raw, 0);
        }
    }
}
