using System.Text;
using StackExchange.Redis;

namespace KvTier.Redis;

/// <summary>Validates <see cref="RedisTierOptions"/> and turns them into a StackExchange.Redis configuration and a printable name.</summary>
internal static class RedisConfiguration
{
    private const int DefaultPort = 6379;
    private const int MaxNamespaceLength = 64;
    private static readonly TimeSpan MaxTimeout = TimeSpan.FromMinutes(10);

    /// <summary>The validated configuration, the tier's name (no secrets) and the key prefix.</summary>
    public static (ConfigurationOptions Configuration, string Name, string KeyPrefix) Create(RedisTierOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        if (options.Endpoints is null || options.Endpoints.Count == 0)
            throw Invalid(nameof(RedisTierOptions.Endpoints), "is required: give at least one host:port or redis://host:port");
        if (options.Endpoints.Count > RedisTierOptions.MaxEndpoints)
            throw Invalid(nameof(RedisTierOptions.Endpoints), $"has {options.Endpoints.Count} entries; at most {RedisTierOptions.MaxEndpoints}");
        ValidateNamespace(options.Namespace);
        if (options.Database < 0 || options.Database > 1_000_000)
            throw Invalid(nameof(RedisTierOptions.Database), $"is {options.Database}; it must be 0 or more");
        if (options.TimeToLive is { } ttl && (ttl < TimeSpan.FromMilliseconds(1) || ttl > TimeSpan.FromDays(365 * 100)))
            throw Invalid(nameof(RedisTierOptions.TimeToLive), $"is {ttl}; it must be null (no expiry) or between 1 ms and 100 years");
        if (options.MaxRecordBytes < 1024 || options.MaxRecordBytes > RedisTierOptions.MaxRecordBytesLimit)
            throw Invalid(nameof(RedisTierOptions.MaxRecordBytes), $"is {options.MaxRecordBytes}; it must be between 1024 and {RedisTierOptions.MaxRecordBytesLimit} bytes");
        ValidateTimeout(nameof(RedisTierOptions.OperationTimeout), options.OperationTimeout, MaxTimeout);
        ValidateTimeout(nameof(RedisTierOptions.ConnectTimeout), options.ConnectTimeout, MaxTimeout);
        ValidateTimeout(nameof(RedisTierOptions.CircuitBreakerCooldown), options.CircuitBreakerCooldown, TimeSpan.FromHours(1));
        if (options.CircuitBreakerFailureThreshold < 1 || options.CircuitBreakerFailureThreshold > 1_000_000)
            throw Invalid(nameof(RedisTierOptions.CircuitBreakerFailureThreshold), $"is {options.CircuitBreakerFailureThreshold}; it must be between 1 and 1,000,000");
        if (options.MaxLongestPrefixKeys < 1 || options.MaxLongestPrefixKeys > 1_000_000)
            throw Invalid(nameof(RedisTierOptions.MaxLongestPrefixKeys), $"is {options.MaxLongestPrefixKeys}; it must be between 1 and 1,000,000");
        if (string.IsNullOrWhiteSpace(options.ClientName) || options.ClientName.Any(c => c <= ' ' || c > '~'))
            throw Invalid(nameof(RedisTierOptions.ClientName), "must be printable ASCII without spaces");
        if (options.User is { Length: 0 })
            throw Invalid(nameof(RedisTierOptions.User), "is empty; use null for the default user");
        if (options.TlsHost is { Length: 0 })
            throw Invalid(nameof(RedisTierOptions.TlsHost), "is empty; use null for the endpoint's host");

        int timeoutMs = Milliseconds(options.OperationTimeout);
        var configuration = new ConfigurationOptions
        {
            AbortOnConnectFail = false,                // Created even when Redis is down; reconnects in the background.
            BacklogPolicy = BacklogPolicy.FailFast,    // No queue of commands (and record buffers) while disconnected.
            ConnectTimeout = Milliseconds(options.ConnectTimeout),
            SyncTimeout = timeoutMs,
            AsyncTimeout = timeoutMs,
            ConnectRetry = 1,
            ReconnectRetryPolicy = new ExponentialRetry(Math.Clamp(Milliseconds(options.ConnectTimeout) / 2, 50, 1000), 5000),
            DefaultDatabase = options.Database,
            ClientName = options.ClientName,
            User = options.User,
            Password = options.Password,
            Ssl = options.UseTls,
            SslHost = options.TlsHost,
            AllowAdmin = false,
        };
        var name = new StringBuilder();
        bool tls = options.UseTls;
        foreach (string entry in options.Endpoints)
        {
            (string host, int port, bool secure) = ParseEndpoint(entry);
            tls |= secure;
            configuration.EndPoints.Add(host, port);
            name.Append(name.Length == 0 ? "" : ",").Append(host.Contains(':') ? $"[{host}]" : host).Append(':').Append(port);
        }
        configuration.Ssl = tls;
        options.Configure?.Invoke(configuration);
        string keyPrefix = options.Namespace + ":rec:";
        return (configuration, $"{(tls ? "rediss" : "redis")}://{name}/{options.Namespace}", keyPrefix);
    }

    private static (string Host, int Port, bool Tls) ParseEndpoint(string? entry)
    {
        const string option = nameof(RedisTierOptions.Endpoints);
        if (string.IsNullOrWhiteSpace(entry))
            throw Invalid(option, "has an empty entry");
        string text = entry.Trim();
        bool hasScheme = text.Contains("://", StringComparison.Ordinal);
        if (!Uri.TryCreate(hasScheme ? text : "redis://" + text, UriKind.Absolute, out Uri? uri))
            throw Invalid(option, $"entry '{Printable(text)}' is not host:port, redis://host:port or rediss://host:port");
        bool tls = uri.Scheme switch
        {
            "redis" => false,
            "rediss" => true,
            _ => throw Invalid(option, $"entry '{Printable(text)}' has scheme '{uri.Scheme}'; only redis:// and rediss:// are accepted"),
        };
        if (uri.UserInfo.Length > 0)
            throw Invalid(option, "entries must not carry credentials; set RedisTierOptions.User and RedisTierOptions.Password");
        if (uri.AbsolutePath is not ("" or "/") || uri.Query.Length > 0 || uri.Fragment.Length > 0)
            throw Invalid(option, $"entry '{Printable(text)}' has a path or query; give only host and port (the database is RedisTierOptions.Database)");
        if (uri.Host.Length == 0)
            throw Invalid(option, $"entry '{Printable(text)}' has no host");
        int port = uri.IsDefaultPort || uri.Port < 0 ? DefaultPort : uri.Port;
        if (port is < 1 or > 65535)
            throw Invalid(option, $"entry '{Printable(text)}' has port {port}; it must be 1–65535");
        string host = uri.HostNameType == UriHostNameType.IPv6 ? uri.Host.Trim('[', ']') : uri.Host;
        return (host, port, tls);
    }

    private static void ValidateNamespace(string? ns)
    {
        const string option = nameof(RedisTierOptions.Namespace);
        if (string.IsNullOrEmpty(ns) || ns.Length > MaxNamespaceLength)
            throw Invalid(option, $"must be 1–{MaxNamespaceLength} characters long");
        foreach (char c in ns)
        {
            if (!(char.IsAsciiLetterOrDigit(c) || c is '-' or '_' or '.' or '/'))
                throw Invalid(option, $"'{Printable(ns)}' has '{Printable(c.ToString())}'; only letters, digits, '-', '_', '.' and '/' are allowed");
        }
    }

    private static void ValidateTimeout(string option, TimeSpan value, TimeSpan max)
    {
        if (value < TimeSpan.FromMilliseconds(1) || value > max)
            throw Invalid(option, $"is {value}; it must be between 1 ms and {max}");
    }

    private static int Milliseconds(TimeSpan value) => (int)Math.Max(1, Math.Ceiling(value.TotalMilliseconds));

    private static string Printable(string text)
    {
        var builder = new StringBuilder(Math.Min(text.Length, 80));
        foreach (char c in text.AsSpan(0, Math.Min(text.Length, 80)))
            builder.Append(c is >= ' ' and <= '~' ? c : '?');
        return builder.ToString();
    }

    private static ArgumentException Invalid(string option, string message) =>
        new($"{nameof(RedisTierOptions)}.{option} {message}.", option);
}
