using KvTier.Remote;
using KvTier.Storage;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using Xunit;

namespace KvTier.Hosting.Tests;

/// <summary>
/// KvTier's options bind from a JSON or YAML file named by KVTIER_CONFIG_FILE, from KVTIER_* environment variables and
/// from code, with the documented precedence: code defaults &lt; file &lt; environment &lt; code overrides.
/// </summary>
public sealed class ConfigurationBindingTests : IDisposable
{
    private readonly TempDirectory _temp = new();

    public void Dispose() => _temp.Dispose();

    private static KvTierOptions Bind(IReadOnlyDictionary<string, string?> environment, Action<KvTierOptions>? overrides = null)
    {
        IConfiguration configuration = new ConfigurationBuilder().AddKvTierSources(environment).Build();
        var services = new ServiceCollection();
        services.AddKvTier(configuration.GetSection(KvTierOptions.SectionName), overrides);
        using ServiceProvider provider = services.BuildServiceProvider();
        return provider.GetRequiredService<IOptions<KvTierOptions>>().Value;
    }

    [Fact]
    public void A_json_file_sets_store_prefetcher_remote_and_key_options_including_init_only_ones()
    {
        string token = _temp.File("token", "hosting-test-token-0123456789abcdef");
        string file = _temp.File("kvtier.json", $$"""
            {
              "Store": { "Directory": "/var/cache/kvtier", "SegmentSizeBytes": 1048576, "MemoryCapacityBytes": 0,
                         "Durability": "NoSync", "RemoteWrites": "None", "CompactionMinLiveFraction": 0.25 },
              "Prefetcher": { "MaxLayersAhead": 4, "DecodeParallelism": 3, "SkipChunksAfterMissing": true },
              "Remote": { "Host": "cache.internal", "Port": 7400, "TokenFile": "{{token}}", "UseTls": true,
                          "CallTimeout": "00:00:00.500", "MaxRetries": 1, "CircuitBreakerThreshold": 3, "PutPolicy": "Queue" },
              "KeyNamespace": "tenant-a",
              "ChunkTokens": 128
            }
            """);
        KvTierOptions options = Bind(new Dictionary<string, string?> { [KvTierConfiguration.ConfigFileVariable] = file });

        Assert.Equal("/var/cache/kvtier", options.Store.Directory);
        Assert.Equal(1L << 20, options.Store.SegmentSizeBytes);
        Assert.Equal(0, options.Store.MemoryCapacityBytes);
        Assert.Equal(DurabilityMode.NoSync, options.Store.Durability);
        Assert.Equal(Storage.Remote.RemoteWritePolicy.None, options.Store.RemoteWrites);
        Assert.Equal(0.25, options.Store.CompactionMinLiveFraction);
        Assert.Equal(new KvStoreOptions { Directory = "x" }.DiskCapacityBytes, options.Store.DiskCapacityBytes); // untouched default
        Assert.Equal(4, options.Prefetcher.MaxLayersAhead);
        Assert.Equal(3, options.Prefetcher.DecodeParallelism);
        Assert.True(options.Prefetcher.SkipChunksAfterMissing);
        Assert.NotNull(options.Remote);
        Assert.Equal("cache.internal", options.Remote.Host);
        Assert.Equal(7400, options.Remote.Port);
        Assert.True(options.Remote.UseTls);
        Assert.Equal(TimeSpan.FromMilliseconds(500), options.Remote.CallTimeout);
        Assert.Equal(1, options.Remote.MaxRetries);
        Assert.Equal(3, options.Remote.CircuitBreakerThreshold);
        Assert.Equal(RemotePutPolicy.Queue, options.Remote.PutPolicy);
        Assert.Equal(TimeSpan.FromSeconds(10), options.Remote.CircuitBreakerCooldown); // the tier's default
        Assert.Null(options.Redis);
        Assert.Equal("tenant-a", options.KeyNamespace);
        Assert.Equal(128, options.ChunkTokens);

        RemoteTierOptions tier = options.Remote.ToRemoteTierOptions(new byte[32]);
        Assert.Equal("cache.internal", tier.Client.Host);
        Assert.True(tier.Client.UseTls);
        Assert.Equal(TimeSpan.FromMilliseconds(500), tier.CallTimeout);
    }

    [Fact]
    public void A_yaml_file_sets_the_same_options_and_redis_endpoints_bind_as_a_list()
    {
        string file = _temp.File("kvtier.yaml", """
            KvTier:
              Store:
                Directory: /data/kv
                DiskCapacityBytes: 8589934592
                Eviction: Lru
              Prefetcher:
                StagingBudgetBytes: 33554432
              Redis:
                Endpoints:
                  - redis-a:6379
                  - redis-b:6379
                Namespace: svc
                OperationTimeout: "00:00:00.250"
                TimeToLive: "01:00:00"
              ChunkTokens: 64
            """);
        KvTierOptions options = Bind(new Dictionary<string, string?> { [KvTierConfiguration.ConfigFileVariable] = file });

        Assert.Equal("/data/kv", options.Store.Directory);
        Assert.Equal(8L << 30, options.Store.DiskCapacityBytes);
        Assert.Equal(32L << 20, options.Prefetcher.StagingBudgetBytes);
        Assert.NotNull(options.Redis);
        Assert.Equal(["redis-a:6379", "redis-b:6379"], options.Redis.Endpoints);
        Assert.Equal("svc", options.Redis.Namespace);
        Assert.Equal(TimeSpan.FromMilliseconds(250), options.Redis.OperationTimeout);
        Assert.Equal(TimeSpan.FromHours(1), options.Redis.TimeToLive);
        Assert.Null(options.Remote);
        Assert.Equal(64, options.ChunkTokens);
    }

    [Fact]
    public void Environment_variables_override_the_file_and_code_overrides_the_environment()
    {
        string file = _temp.File("kvtier.yml", """
            Store:
              Directory: /from/file
              SegmentSizeBytes: 2097152
              MaxGroupCommitRecords: 17
            ChunkTokens: 32
            KeyNamespace: file
            """);
        var environment = new Dictionary<string, string?>
        {
            [KvTierConfiguration.ConfigFileVariable] = file,
            ["KVTIER_Store__Directory"] = "/from/env",
            ["KVTIER_Store__SegmentSizeBytes"] = "4194304",
            ["kvtier_KeyNamespace"] = "env",
            ["OTHER_Store__Directory"] = "/ignored",
        };
        KvTierOptions options = Bind(environment, o =>
        {
            o.Store = o.Store with { SegmentSizeBytes = 8L << 20 };
            o.KeyNamespace = "code";
        });

        Assert.Equal("/from/env", options.Store.Directory);     // env over file
        Assert.Equal(8L << 20, options.Store.SegmentSizeBytes); // code over env over file
        Assert.Equal(17, options.Store.MaxGroupCommitRecords);  // file over defaults
        Assert.Equal(32, options.ChunkTokens);
        Assert.Equal("code", options.KeyNamespace);
        Assert.Equal(new KvStoreOptions { Directory = "x" }.MemoryCapacityBytes, options.Store.MemoryCapacityBytes); // code default
    }

    [Fact]
    public void The_process_environment_is_read_when_no_dictionary_is_given()
    {
        const string name = "KVTIER_Store__MaxGroupCommitRecords";
        string? before = Environment.GetEnvironmentVariable(name);
        string? beforeFile = Environment.GetEnvironmentVariable(KvTierConfiguration.ConfigFileVariable);
        try
        {
            Environment.SetEnvironmentVariable(name, "99");
            Environment.SetEnvironmentVariable(KvTierConfiguration.ConfigFileVariable, null);
            IConfiguration configuration = new ConfigurationBuilder().AddKvTierSources().Build();
            Assert.Equal("99", configuration["KvTier:Store:MaxGroupCommitRecords"]);
        }
        finally
        {
            Environment.SetEnvironmentVariable(name, before);
            Environment.SetEnvironmentVariable(KvTierConfiguration.ConfigFileVariable, beforeFile);
        }
    }

    [Fact]
    public void A_missing_or_unknown_config_file_fails_naming_the_variable()
    {
        var missing = new Dictionary<string, string?> { [KvTierConfiguration.ConfigFileVariable] = _temp.Sub("nope.json") };
        var e = Assert.Throws<FileNotFoundException>(() => new ConfigurationBuilder().AddKvTierSources(missing).Build());
        Assert.Contains(KvTierConfiguration.ConfigFileVariable, e.Message, StringComparison.Ordinal);

        var unknown = new Dictionary<string, string?> { [KvTierConfiguration.ConfigFileVariable] = _temp.File("kvtier.ini", "x=1") };
        var a = Assert.Throws<ArgumentException>(() => new ConfigurationBuilder().AddKvTierSources(unknown).Build());
        Assert.Contains(".yaml", a.Message, StringComparison.Ordinal);
    }
}
