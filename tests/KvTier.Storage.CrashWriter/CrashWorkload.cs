using KvTier.Testing.Records;

namespace KvTier.Storage.CrashWriter;

/// <summary>
/// What the crash writer and the test that kills it agree on: the store's options and each key id's record, so that the
/// test can regenerate the exact bytes of every acknowledged put.
/// </summary>
public static class CrashWorkload
{
    /// <summary>Small segments, so that a run of a second or two rolls several and compaction has work.</summary>
    public static KvStoreOptions Options(string directory, DurabilityMode durability) => new()
    {
        Directory = directory,
        MemoryCapacityBytes = 2 * KvStoreOptions.MiB,
        DiskCapacityBytes = 1L << 30,
        SegmentSizeBytes = KvStoreOptions.MiB,
        MaxRecordBytes = 256 * 1024,
        Durability = durability,
        MaxGroupCommitRecords = 16,
    };

    /// <summary>The record stored under <see cref="TestRecords.Key"/>(<paramref name="id"/>): 1 to 301 tokens (4 to 40 KiB frames).</summary>
    public static byte[] Record(long id) => TestRecords.Create(id, tokens: 1 + (int)(id % 61) * 5, contentSeed: (int)id);
}
