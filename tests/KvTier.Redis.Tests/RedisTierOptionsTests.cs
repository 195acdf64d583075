using KvTier.Testing.Records;
using Xunit;

namespace KvTier.Redis.Tests;

/// <summary>Options are validated at creation with a message that names the option (no Redis needed).</summary>
public sealed class RedisTierOptionsTests
{
    private static RedisTierOptions Valid => new() { Endpoints = ["127.0.0.1:1"] };

    private static readonly (string Option, Func<RedisTierOptions, RedisTierOptions> Make)[] InvalidCases =
    [
        ("Endpoints", _ => new RedisTierOptions()),
        ("Endpoints", _ => new RedisTierOptions { Endpoints = [""] }),
        ("Endpoints", _ => new RedisTierOptions { Endpoints = ["http://host:1"] }),
        ("Endpoints", _ => new RedisTierOptions { Endpoints = ["redis://user:secret@host:1"] }),
        ("Endpoints", _ => new RedisTierOptions { Endpoints = ["redis://host:1/3"] }),
        ("Endpoints", _ => new RedisTierOptions { Endpoints = ["host:99999"] }),
        ("Namespace", o => Copy(o, ns: "")),
        ("Namespace", o => Copy(o, ns: "a{b}")),
        ("Namespace", o => Copy(o, ns: "has space")),
        ("Namespace", o => Copy(o, ns: new string('n', 65))),
        ("TimeToLive", o => Copy(o, ttl: TimeSpan.Zero)),
        ("TimeToLive", o => Copy(o, ttl: TimeSpan.FromSeconds(-1))),
        ("MaxRecordBytes", o => Copy(o, maxRecord: 100)),
        ("MaxRecordBytes", o => Copy(o, maxRecord: 1L << 30)),
        ("OperationTimeout", o => Copy(o, timeout: TimeSpan.Zero)),
        ("ConnectTimeout", o => Copy(o, connect: TimeSpan.FromHours(1))),
        ("CircuitBreakerFailureThreshold", o => Copy(o, threshold: 0)),
        ("CircuitBreakerCooldown", o => Copy(o, cooldown: TimeSpan.Zero)),
        ("MaxLongestPrefixKeys", o => Copy(o, maxKeys: 0)),
        ("Database", o => Copy(o, database: -1)),
    ];

    public static TheoryData<string, int> Invalid()
    {
        var data = new TheoryData<string, int>();
        for (int i = 0; i < InvalidCases.Length; i++)
            data.Add(InvalidCases[i].Option, i);
        return data;
    }

    private static RedisTierOptions Copy(RedisTierOptions o, string? ns = null, TimeSpan? ttl = null, long? maxRecord = null, TimeSpan? timeout = null,
        TimeSpan? connect = null, int? threshold = null, TimeSpan? cooldown = null, int? maxKeys = null, int? database = null) => new()
    {
        Endpoints = o.Endpoints,
        Namespace = ns ?? o.Namespace,
        TimeToLive = ttl ?? o.TimeToLive,
        MaxRecordBytes = maxRecord ?? o.MaxRecordBytes,
        OperationTimeout = timeout ?? o.OperationTimeout,
        ConnectTimeout = connect ?? o.ConnectTimeout,
        CircuitBreakerFailureThreshold = threshold ?? o.CircuitBreakerFailureThreshold,
        CircuitBreakerCooldown = cooldown ?? o.CircuitBreakerCooldown,
        MaxLongestPrefixKeys = maxKeys ?? o.MaxLongestPrefixKeys,
        Database = database ?? o.Database,
    };

    [Theory]
    [MemberData(nameof(Invalid))]
    public async Task Invalid_options_fail_at_creation_naming_the_option(string option, int @case)
    {
        ArgumentException ex = await Assert.ThrowsAsync<ArgumentException>(() => RedisTier.ConnectAsync(InvalidCases[@case].Make(Valid)));
        Assert.Contains($"RedisTierOptions.{option}", ex.Message);
        Assert.Equal(option, ex.ParamName);
        Assert.DoesNotContain("secret", ex.Message);
    }

    [Fact]
    public async Task Null_options_throw()
    {
        await Assert.ThrowsAsync<ArgumentNullException>(() => RedisTier.ConnectAsync(null!));
    }

    [Fact]
    public void Defaults_are_the_documented_ones()
    {
        var o = new RedisTierOptions();
        Assert.Equal("kvtier", o.Namespace);
        Assert.Null(o.TimeToLive);
        Assert.Equal(128L << 20, o.MaxRecordBytes);
        Assert.Equal(TimeSpan.FromSeconds(1), o.OperationTimeout);
        Assert.Equal(TimeSpan.FromSeconds(2), o.ConnectTimeout);
        Assert.Equal(5, o.CircuitBreakerFailureThreshold);
        Assert.Equal(TimeSpan.FromSeconds(5), o.CircuitBreakerCooldown);
        Assert.Equal(4096, o.MaxLongestPrefixKeys);
        Assert.True(o.DeleteCorruptRecords);
        Assert.False(o.UseTls);
        Assert.Equal(0, o.Database);
    }

    [Fact]
    public async Task The_name_lists_endpoints_and_namespace_and_never_the_password()
    {
        // Nothing listens on port 1: creation still succeeds (within the connect timeout) and calls miss.
        await using RedisTier tier = await RedisTier.ConnectAsync(new RedisTierOptions
        {
            Endpoints = ["127.0.0.1:1", "redis://localhost:2"],
            Namespace = "tenant-a",
            Password = "hunter2",
            ConnectTimeout = TimeSpan.FromMilliseconds(200),
            OperationTimeout = TimeSpan.FromMilliseconds(200),
        });
        Assert.Equal("redis://127.0.0.1:1,localhost:2/tenant-a", tier.Name);
        Assert.DoesNotContain("hunter2", tier.Name);
        Assert.Null(await tier.TryGetAsync(TestRecords.Key(1)));
    }

    [Fact]
    public async Task A_rediss_endpoint_means_tls()
    {
        await using RedisTier tier = await RedisTier.ConnectAsync(new RedisTierOptions
        {
            Endpoints = ["rediss://[::1]:1"],
            ConnectTimeout = TimeSpan.FromMilliseconds(100),
            OperationTimeout = TimeSpan.FromMilliseconds(100),
        });
        Assert.Equal("rediss://[::1]:1/kvtier", tier.Name);
    }
}
