using KvTier.Keys;
using KvTier.Prefetch;
using KvTier.Prefetch.Decoding;
using KvTier.Storage;
using KvTier.Storage.Remote;
using KvTier.Testing.Records;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Xunit;

namespace KvTier.Hosting.Tests;

/// <summary>services.AddKvTier opens the store once, hands out the same instance, and closes it with the container.</summary>
public sealed class ServiceRegistrationTests : IDisposable
{
    private readonly TempDirectory _temp = new();

    public void Dispose() => _temp.Dispose();

    private ServiceProvider Build(string directory)
    {
        var services = new ServiceCollection();
        services.AddKvTier(o =>
        {
            o.Store = o.Store with { Directory = directory, MemoryCapacityBytes = 4 << 20, SegmentSizeBytes = 1 << 20 };
            o.Prefetcher = new PrefetcherOptions { Decoder = CpuSectionDecoder.Instance, StagingBudgetBytes = 1 << 20 };
        });
        return services.BuildServiceProvider(new ServiceProviderOptions { ValidateOnBuild = true, ValidateScopes = true });
    }

    [Fact]
    public void The_store_is_opened_once_shared_and_disposed_with_the_container()
    {
        string directory = _temp.Sub("store");
        ChunkKey key = TestRecords.Key(1);
        using (ServiceProvider provider = Build(directory))
        {
            KvStore store = provider.GetRequiredService<KvStore>();
            Assert.Same(store, provider.GetRequiredService<KvStore>());
            Assert.Equal(directory, store.Options.Directory);
            store.Put(TestRecords.Create(key));
            Assert.Null(provider.GetService<IRemoteTier>());
            Prefetcher prefetcher = provider.GetRequiredService<Prefetcher>();
            Assert.Same(store, prefetcher.Store);
            Assert.Equal("cpu-simd", prefetcher.GetStatistics().Decoder);
        }

        // The container closed the store (its lock is free): a second container opens it and finds the record.
        using (ServiceProvider provider = Build(directory))
        {
            KvStore store = provider.GetRequiredService<KvStore>();
            Assert.True(store.Contains(key));
        }
    }

    [Fact]
    public async Task An_async_disposed_container_closes_the_store_too()
    {
        string directory = _temp.Sub("store");
        ServiceProvider provider = Build(directory);
        provider.GetRequiredService<Prefetcher>();
        await provider.DisposeAsync();
        using KvStore reopened = KvStore.Open(new KvStoreOptions { Directory = directory, CreateIfMissing = false });
        Assert.Equal(0, reopened.GetStatistics().Entries);
    }
    [Fact]
    public void A_store_configured_by_environment_variables_opens_where_they_say()
    {
        string directory = _temp.Sub("from-env");
        IConfiguration configuration = new ConfigurationBuilder().AddKvTierSources(new Dictionary<string, string?>
        {
            ["KVTIER_Store__Directory"] = directory,
            ["KVTIER_Store__MemoryCapacityBytes"] = "0",
            ["KVTIER_Store__SegmentSizeBytes"] = "1048576",
        }).Build();
        var services = new ServiceCollection();
        services.AddKvTier(configuration.GetSection(KvTierOptions.SectionName));
        using ServiceProvider provider = services.BuildServiceProvider();
        KvStore store = provider.GetRequiredService<KvStore>();
        Assert.Equal(directory, store.Options.Directory);
        Assert.Equal(1L << 20, store.Options.SegmentSizeBytes);
        Assert.Equal(0, store.Options.MemoryCapacityBytes);
        Assert.True(Directory.Exists(Path.Combine(directory, KvStore.SegmentDirectoryName)));
    }
}
