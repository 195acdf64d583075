using KvTier.Testing.Records;
using Xunit;

namespace KvTier.Storage.Tests;

/// <summary>Options are validated once, at open, with an error that names the option; the defaults open a working store.</summary>
public sealed class OptionsTests
{
    public static TheoryData<string, string> InvalidOptions() => new()
    {
        { "Directory", "empty" },
        { "Directory", "blank" },
        { "MemoryCapacityBytes", "-1" },
        { "DiskCapacityBytes", "0" },
        { "DiskCapacityBytes", "4095" },
        { "SegmentSizeBytes", "below 1 MiB" },
        { "SegmentSizeBytes", "not a multiple of 4096" },
        { "SegmentSizeBytes", "over 64 GiB" },
        { "MaxRecordBytes", "1023" },
        { "MaxRecordBytes", "2^31" },
        { "MaxRecordBytes", "larger than a segment holds" },
        { "MaxGroupCommitRecords", "0" },
        { "MaxGroupCommitRecords", "1000001" },
        { "MaxGroupCommitBytes", "below 1 MiB" },
        { "CompactionMinLiveFraction", "0" },
        { "CompactionMinLiveFraction", "above 1" },
        { "CompactionMinLiveFraction", "NaN" },
        { "Durability", "undefined" },
        { "Eviction", "undefined" },
        { "ReadVerification", "undefined" },
    };

    [Theory]
    [MemberData(nameof(InvalidOptions))]
    public void An_invalid_option_is_refused_with_its_name_and_nothing_is_created(string option, string value)
    {
        using var dir = new StoreDirectory();
        string path = Path.Combine(dir.Path, "store");
        KvStoreOptions valid = StoreDirectory.OptionsFor(path);
        KvStoreOptions options = (option, value) switch
        {
            ("Directory", "empty") => valid with { Directory = "" },
            ("Directory", _) => valid with { Directory = "   " },
            ("MemoryCapacityBytes", _) => valid with { MemoryCapacityBytes = -1 },
            ("DiskCapacityBytes", "0") => valid with { DiskCapacityBytes = 0 },
            ("DiskCapacityBytes", _) => valid with { DiskCapacityBytes = 4095 },
            ("SegmentSizeBytes", "below 1 MiB") => valid with { SegmentSizeBytes = KvStoreOptions.MiB - 4096, MaxRecordBytes = 4096 },
            ("SegmentSizeBytes", "not a multiple of 4096") => valid with { SegmentSizeBytes = KvStoreOptions.MiB + 1 },
            ("SegmentSizeBytes", _) => valid with { SegmentSizeBytes = 64L * 1024 * KvStoreOptions.MiB + 4096 },
            ("MaxRecordBytes", "1023") => valid with { MaxRecordBytes = 1023 },
            ("MaxRecordBytes", "2^31") => valid with { SegmentSizeBytes = 4L * 1024 * KvStoreOptions.MiB, MaxRecordBytes = 1L << 31 },
            ("MaxRecordBytes", _) => valid with { MaxRecordBytes = KvStoreOptions.MiB },
            ("MaxGroupCommitRecords", "0") => valid with { MaxGroupCommitRecords = 0 },
            ("MaxGroupCommitRecords", _) => valid with { MaxGroupCommitRecords = 1_000_001 },
            ("MaxGroupCommitBytes", _) => valid with { MaxGroupCommitBytes = KvStoreOptions.MiB - 1 },
            ("CompactionMinLiveFraction", "0") => valid with { CompactionMinLiveFraction = 0 },
            ("CompactionMinLiveFraction", "above 1") => valid with { CompactionMinLiveFraction = 1.01 },
            ("CompactionMinLiveFraction", _) => valid with { CompactionMinLiveFraction = double.NaN },
            ("Durability", _) => valid with { Durability = (DurabilityMode)7 },
            ("Eviction", _) => valid with { Eviction = (EvictionPolicy)7 },
            ("ReadVerification", _) => valid with { ReadVerification = (ReadVerification)7 },
            _ => throw new ArgumentException($"no case for {option} = {value}"),
        };

        KvStoreException error = Assert.Throws<KvStoreException>(() => KvStore.Open(options));
        Assert.Equal(StoreErrorKind.InvalidOptions, error.Kind);
        Assert.Contains($"{nameof(KvStoreOptions)}.{option}", error.Message, StringComparison.Ordinal);
        Assert.False(Directory.Exists(path), "a refused open created the store directory");

        // The same options less the bad one open.
        using KvStore store = KvStore.Open(valid);
    }

    [Fact]
    public void The_defaults_open_a_store_that_stores_and_returns_records()
    {
        using var dir = new StoreDirectory();
        byte[] record = TestRecords.Create(1, tokens: 20, contentSeed: 1);
        using (KvStore store = KvStore.Open(new KvStoreOptions { Directory = dir.Path }))
            store.Put(record);
        using (KvStore store = KvStore.Open(new KvStoreOptions { Directory = dir.Path }))
        {
            Assert.True(store.TryRead(TestRecords.Key(1), out byte[]? bytes));
            Assert.Equal(record, bytes);
        }
    }

    [Fact]
    public void Without_a_max_record_size_the_largest_record_a_segment_holds_is_the_limit()
    {
        using var dir = new StoreDirectory();
        using KvStore store = KvStore.Open(new KvStoreOptions { Directory = dir.Path, SegmentSizeBytes = KvStoreOptions.MiB, MemoryCapacityBytes = 0 });
        // 8192 tokens of 128 bytes: a record just over 1 MiB, which cannot fit in a 1 MiB segment after its header.
        byte[] tooLarge = TestRecords.Create(1, tokens: 8192, contentSeed: 1);
        KvStoreException error = Assert.Throws<KvStoreException>(() => store.Put(tooLarge));
        Assert.Equal(StoreErrorKind.RecordTooLarge, error.Kind);
        byte[] fits = TestRecords.Create(2, tokens: 8000, contentSeed: 2);
        store.Put(fits);
        Assert.True(store.TryRead(TestRecords.Key(2), out byte[]? bytes));
        Assert.Equal(fits, bytes);
    }

    [Theory]
    [InlineData(0.0)]
    [InlineData(-0.5)]
    [InlineData(1.5)]
    [InlineData(double.NaN)]
    public void Compaction_refuses_a_live_fraction_outside_zero_to_one(double fraction)
    {
        using var dir = new StoreDirectory();
        using KvStore store = KvStore.Open(dir.Options());
        Assert.Throws<ArgumentOutOfRangeException>(() => store.Compact(fraction));
    }
}
