using KvTier.Prefetch;
using KvTier.Redis;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using Xunit;

namespace KvTier.Hosting.Tests;

/// <summary>Bad options fail at start-up (ValidateOnStart) with the components' own checks, naming the option by its configuration path.</summary>
public sealed class OptionsValidationTests : IDisposable
{
    private readonly TempDirectory _temp = new();

    public void Dispose() => _temp.Dispose();

    private static OptionsValidationException Fails(Dictionary<string, string?> settings)
    {
        IConfiguration configuration = new ConfigurationBuilder().AddInMemoryCollection(settings).Build();
        var services = new ServiceCollection();
        services.AddKvTier(configuration.GetSection("KvTier"));
        using ServiceProvider provider = services.BuildServiceProvider();
        // What a host runs at start-up for ValidateOnStart.
        return Assert.Throws<OptionsValidationException>(() => provider.GetRequiredService<IStartupValidator>().Validate());
    }

    [Fact]
    public void A_bad_segment_size_names_KvTier_Store_SegmentSizeBytes()
    {
        OptionsValidationException e = Fails(new() { ["KvTier:Store:Directory"] = "/tmp/x", ["KvTier:Store:SegmentSizeBytes"] = "5000" });
        string failure = Assert.Single(e.Failures);
        Assert.StartsWith("KvTier:Store:SegmentSizeBytes is 5000; it must be a multiple of 4096", failure, StringComparison.Ordinal);
    }

    [Fact]
    public void A_missing_directory_and_bad_prefetcher_and_chunk_tokens_are_all_reported()
    {
        OptionsValidationException e = Fails(new() { ["KvTier:Prefetcher:MaxLayersAhead"] = "0", ["KvTier:ChunkTokens"] = "0" });
        Assert.Contains(e.Failures, f => f.StartsWith("KvTier:Store:Directory must name a directory", StringComparison.Ordinal));
        Assert.Contains(e.Failures, f => f.StartsWith("KvTier:Prefetcher:MaxLayersAhead is 0", StringComparison.Ordinal));
        Assert.Contains(e.Failures, f => f.StartsWith("KvTier:ChunkTokens is 0", StringComparison.Ordinal));
    }

    [Fact]
    public void Remote_options_are_checked_by_the_tier_and_the_token_file_must_exist()
    {
        OptionsValidationException e = Fails(new()
        {
            ["KvTier:Store:Directory"] = "/tmp/x",
            ["KvTier:Remote:Host"] = "cache",
            ["KvTier:Remote:Port"] = "70000",
            ["KvTier:Remote:TokenFile"] = _temp.Sub("missing-token"),
        });
        Assert.Contains(e.Failures, f => f.StartsWith("KvTier:Remote:TokenFile", StringComparison.Ordinal) && f.Contains("does not exist", StringComparison.Ordinal));
        Assert.Contains(e.Failures, f => f == "KvTier:Remote:Port must be between 1 and 65535.");
    }

    [Fact]
    public void Redis_options_are_checked_by_the_tier_and_only_one_remote_tier_is_allowed()
    {
        OptionsValidationException e = Fails(new()
        {
            ["KvTier:Store:Directory"] = "/tmp/x",
            ["KvTier:Redis:Endpoints:0"] = "redis:6379",
            ["KvTier:Redis:Namespace"] = "has{brace}",
            ["KvTier:Remote:Host"] = "cache",
            ["KvTier:Remote:Port"] = "7400",
            ["KvTier:Remote:TokenFile"] = _temp.File("token", "hosting-test-token-0123456789abcdef"),
        });
        Assert.Contains(e.Failures, f => f.StartsWith("KvTier:Remote and KvTier:Redis are both set", StringComparison.Ordinal));
        Assert.Contains(e.Failures, f => f.StartsWith("KvTier:Redis:Namespace", StringComparison.Ordinal));
    }

    [Fact]
    public void Resolving_the_store_with_bad_options_throws_the_same_messages()
    {
        var services = new ServiceCollection();
        services.AddKvTier(o => o.Store = o.Store with { Directory = _temp.Sub("store"), MaxGroupCommitRecords = 0 });
        using ServiceProvider provider = services.BuildServiceProvider();
        var e = Assert.Throws<OptionsValidationException>(() => provider.GetRequiredService<Storage.KvStore>());
        Assert.Contains(e.Failures, f => f.StartsWith("KvTier:Store:MaxGroupCommitRecords is 0", StringComparison.Ordinal));
    }

    [Fact]
    public void Valid_defaults_with_a_directory_pass_and_every_component_check_is_found()
    {
        Assert.NotNull(ComponentCheck.KvStore);
        Assert.NotNull(ComponentCheck.Prefetcher);
        Assert.NotNull(ComponentCheck.RemoteTier);
        Assert.NotNull(ComponentCheck.Redis);
        var options = new KvTierOptions { Redis = new RedisTierOptions { Endpoints = ["localhost:6379"] }, Prefetcher = new PrefetcherOptions() };
        options.Store = options.Store with { Directory = "/tmp/kv" };
        Assert.Empty(KvTierOptionsValidator.Check(options));
    }
}
