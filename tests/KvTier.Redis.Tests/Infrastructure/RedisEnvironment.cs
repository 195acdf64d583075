namespace KvTier.Redis.Tests.Infrastructure;

/// <summary>
/// Where the tests find Redis, decided once per process: <c>KVTIER_REDIS=host:port</c> (CI starts one), else a private
/// <c>redis-server</c> started by the tests when the binary is on PATH. Without either the Redis tests skip, except under
/// CI (<c>CI=true</c>), where they run and fail: a missing Redis must fail the build, not hide it.
/// </summary>
public static class RedisEnvironment
{
    /// <summary>The environment variable that names a running Redis (<c>host:port</c>).</summary>
    public const string EndpointVariable = "KVTIER_REDIS";

    private static readonly Lazy<string?> Binary = new(() =>
    {
        foreach (string dir in (Environment.GetEnvironmentVariable("PATH") ?? "").Split(Path.PathSeparator, StringSplitOptions.RemoveEmptyEntries)
                     .Concat(["/usr/bin", "/usr/local/bin", "/usr/sbin"]))
        {
            string candidate = Path.Combine(dir, "redis-server");
            if (File.Exists(candidate))
                return candidate;
        }
        return null;
    });

    /// <summary>The endpoint from <see cref="EndpointVariable"/>, or null.</summary>
    public static string? ConfiguredEndpoint =>
        Environment.GetEnvironmentVariable(EndpointVariable) is { Length: > 0 } value ? value.Trim() : null;

    /// <summary>The redis-server binary, or null when it is not installed.</summary>
    public static string? ServerBinary => Binary.Value;

    /// <summary>True when the environment variable <c>CI</c> is <c>true</c>.</summary>
    public static bool RunningInCi =>
        string.Equals(Environment.GetEnvironmentVariable("CI"), "true", StringComparison.OrdinalIgnoreCase);

    /// <summary>Why a test that needs some Redis should skip; null when it should run.</summary>
    public static string? SkipReason =>
        ConfiguredEndpoint is not null || ServerBinary is not null || RunningInCi
            ? null
            : $"no Redis: set {EndpointVariable}=host:port or install redis-server (apt-get install redis-server)";

    /// <summary>Why a test that starts and kills its own redis-server should skip; null when it should run.</summary>
    public static string? ServerSkipReason =>
        ServerBinary is not null || RunningInCi
            ? null
            : "redis-server is not installed (apt-get install redis-server); this test starts and kills its own";
}
