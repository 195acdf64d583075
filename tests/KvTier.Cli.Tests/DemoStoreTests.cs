using KvTier.Cli.Commands;
using KvTier.Testing;
using Xunit;

namespace KvTier.Cli.Tests;

/// <summary><c>kvtier demo</c> keeps its chunks in a store: a second run finds them, and reuse goes through the store.</summary>
public sealed class DemoStoreTests : IDisposable
{
    private readonly string _root = Directory.CreateTempSubdirectory("kvtier-demo-store-").FullName;

    public void Dispose() => Directory.Delete(_root, recursive: true);

    [RequiresModelFact]
    public void A_second_run_finds_every_chunk_stored_and_reuse_from_the_store_matches_full_prefill()
    {
        string store = Path.Combine(_root, "store");

        CliResult first = CliRunner.Run("demo", "--steps", "200", "--chunk-tokens", "64", "--store", store);
        CliResult second = CliRunner.Run("demo", "--steps", "200", "--chunk-tokens", "64", "--store", store);

        Assert.True(first.ExitCode == 0, first.Error);
        Assert.True(second.ExitCode == 0, second.Error);
        // 5 requests of 200, 200, 179, 200 and 200 positions: 19 chunks of 64 tokens, 15 distinct.
        Assert.Contains($"Store {store}: 0 records at open", first.Console, StringComparison.Ordinal);
        Assert.Contains("First pass: 4 of 19 chunks found in the store (memory tier 4, ", first.Console, StringComparison.Ordinal); // request 5 repeats request 1
        Assert.Contains("15 chunks stored", first.Console, StringComparison.Ordinal);
        Assert.Contains("After the reopen (15 records in 1 segment): 19 of 19 chunks found in the store (memory tier 4, disk tier 15, ", first.Console, StringComparison.Ordinal);

        // The RAG walk-through at the end of the first run stored its system prompt and 4 documents (one chunk each) too.
        Assert.Contains("RAG walk-through: 4 documents", first.Console, StringComparison.Ordinal);
        Assert.Contains($"Store {store}: 20 records at open", second.Console, StringComparison.Ordinal);
        Assert.Contains("First pass: 19 of 19 chunks found in the store", second.Console, StringComparison.Ordinal);
        Assert.Contains("0 chunks stored", second.Console, StringComparison.Ordinal);

        foreach (CliResult run in new[] { first, second })
        {
            Assert.Contains("loaded 192 cached positions (3 chunks) and computed 8 of 200 positions, continuing from KV decoded from the reopened store by the prefetcher",
                run.Console, StringComparison.Ordinal);
            Assert.Contains("identical within 1e-5", run.Console, StringComparison.Ordinal);
        }

        CliResult verify = CliRunner.Run("verify", store);
        Assert.Equal(0, verify.ExitCode);
        Assert.Contains(": 20 records in 1 segment ", verify.Output, StringComparison.Ordinal); // a second run stores no document again
    }

    [RequiresModelFact]
    public void A_store_held_elsewhere_fails_the_demo_before_the_model_runs()
    {
        string store = Path.Combine(_root, "held");
        using Storage.KvStore held = Storage.KvStore.Open(new Storage.KvStoreOptions { Directory = store });

        CliResult result = CliRunner.Run("demo", "--steps", "64", "--store", store);

        Assert.Equal(1, result.ExitCode);
        Assert.Contains("is open in another process", result.Error, StringComparison.Ordinal);
        Assert.DoesNotContain("request 1 of 5", result.Console, StringComparison.Ordinal);
    }

    [Fact]
    public void The_default_store_is_under_XDG_CACHE_HOME_else_the_home_cache_folder()
    {
        Assert.Equal(Path.Combine("/xdg/cache", "kvtier", "demo-store"),
            DemoCommand.DefaultStoreDirectory(name => name == "XDG_CACHE_HOME" ? "/xdg/cache" : null, "/home/u"));
        Assert.Equal(Path.Combine("/home/u", ".cache", "kvtier", "demo-store"), DemoCommand.DefaultStoreDirectory(_ => null, "/home/u"));
        // A relative XDG_CACHE_HOME is invalid under the XDG base directory spec and is ignored.
        Assert.Equal(Path.Combine("/home/u", ".cache", "kvtier", "demo-store"), DemoCommand.DefaultStoreDirectory(_ => "relative/cache", "/home/u"));
        Assert.Equal(Path.Combine(Path.GetTempPath(), "kvtier", "demo-store"), DemoCommand.DefaultStoreDirectory(_ => null, null));
    }
}
