using KvTier.Testing.Records;
using Xunit;

namespace KvTier.Storage.Tests;

/// <summary>
/// One store instance per directory (a lock that dies with its process), and directories that are not stores are
/// refused with NotAStore and left as they were.
/// </summary>
public sealed class LockTests
{
    [Fact]
    public void A_second_open_in_the_same_process_is_refused_until_the_first_closes()
    {
        using var dir = new StoreDirectory();
        using (KvStore first = KvStore.Open(dir.Options()))
        {
            first.Put(TestRecords.Create(1));
            KvStoreException error = Assert.Throws<KvStoreException>(() => KvStore.Open(dir.Options()));
            Assert.Equal(StoreErrorKind.Locked, error.Kind);
            Assert.Equal(StoreErrorKind.Locked, Assert.Throws<KvStoreException>(() => KvStore.Repair(dir.Path)).Kind);
            // The refused open did not disturb the open store.
            Assert.True(first.Contains(TestRecords.Key(1)));
            first.Put(TestRecords.Create(2));
        }
        using KvStore again = KvStore.Open(dir.Options());
        Assert.Equal(2, again.GetStatistics().Entries);
    }

    [Fact]
    public void Another_process_holds_the_lock_until_it_dies()
    {
        using var dir = new StoreDirectory();
        string path = Path.Combine(dir.Path, "store");
        using (WriterProcess writer = WriterProcess.Start(path, DurabilityMode.NoSync, firstNewId: 0, seed: 5))
        {
            Assert.True(writer.WaitUntilOpen(TimeSpan.FromMinutes(1)), $"the writer did not open the store ({writer.ExitDescription})");
            KvStoreException error = Assert.Throws<KvStoreException>(() => KvStore.Open(CrashWriter.CrashWorkload.Options(path, DurabilityMode.NoSync)));
            Assert.Equal(StoreErrorKind.Locked, error.Kind);
            Assert.Contains(KvStore.LockFileName, error.Message, StringComparison.Ordinal);
            writer.Kill(); // SIGKILL: the lock goes with the process, no clean close needed.
        }
        using KvStore store = KvStore.Open(CrashWriter.CrashWorkload.Options(path, DurabilityMode.NoSync));
        Assert.True(store.Verify().Ok);
    }

    [Fact]
    public void A_file_in_place_of_the_directory_is_not_a_store()
    {
        using var dir = new StoreDirectory();
        string path = Path.Combine(dir.Path, "file");
        File.WriteAllText(path, "not a store");
        KvStoreException error = Assert.Throws<KvStoreException>(() => KvStore.Open(StoreDirectory.OptionsFor(path)));
        Assert.Equal(StoreErrorKind.NotAStore, error.Kind);
        Assert.Equal("not a store", File.ReadAllText(path));
    }

    [Fact]
    public void A_directory_of_other_files_is_not_a_store_and_is_left_alone()
    {
        using var dir = new StoreDirectory();
        File.WriteAllText(Path.Combine(dir.Path, "notes.txt"), "mine");
        Directory.CreateDirectory(Path.Combine(dir.Path, "photos"));
        KvStoreException error = Assert.Throws<KvStoreException>(() => KvStore.Open(dir.Options()));
        Assert.Equal(StoreErrorKind.NotAStore, error.Kind);
        Assert.Equal("mine", File.ReadAllText(Path.Combine(dir.Path, "notes.txt")));
        Assert.False(Directory.Exists(dir.Index), "a refused open created an index");
        Assert.False(Directory.Exists(dir.Segments), "a refused open created a segment directory");
    }

    [Fact]
    public void Without_create_if_missing_a_missing_or_empty_directory_is_not_a_store()
    {
        using var dir = new StoreDirectory();
        string missing = Path.Combine(dir.Path, "missing");
        KvStoreException error = Assert.Throws<KvStoreException>(() => KvStore.Open(StoreDirectory.OptionsFor(missing) with { CreateIfMissing = false }));
        Assert.Equal(StoreErrorKind.NotAStore, error.Kind);
        Assert.Contains(nameof(KvStoreOptions.CreateIfMissing), error.Message, StringComparison.Ordinal);
        Assert.False(Directory.Exists(missing));

        string empty = Path.Combine(dir.Path, "empty");
        Directory.CreateDirectory(empty);
        Assert.Equal(StoreErrorKind.NotAStore, Assert.Throws<KvStoreException>(() => KvStore.Open(StoreDirectory.OptionsFor(empty) with { CreateIfMissing = false })).Kind);
        Assert.False(Directory.Exists(Path.Combine(empty, KvStore.IndexDirectoryName)));

        // With it, the same directory becomes a store; then it opens without it.
        using (KvStore created = KvStore.Open(StoreDirectory.OptionsFor(empty)))
            created.Put(TestRecords.Create(1));
        using KvStore reopened = KvStore.Open(StoreDirectory.OptionsFor(empty) with { CreateIfMissing = false });
        Assert.True(reopened.Contains(TestRecords.Key(1)));
    }

    [Fact]
    public void Repair_of_a_directory_that_is_not_a_store_is_refused()
    {
        using var dir = new StoreDirectory();
        Assert.Equal(StoreErrorKind.NotAStore, Assert.Throws<KvStoreException>(() => KvStore.Repair(Path.Combine(dir.Path, "missing"))).Kind);
        // A directory without segment files has nothing to rebuild an index from.
        Assert.Equal(StoreErrorKind.NotAStore, Assert.Throws<KvStoreException>(() => KvStore.Repair(dir.Path)).Kind);
    }
}
