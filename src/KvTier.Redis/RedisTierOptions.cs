using StackExchange.Redis;

namespace KvTier.Redis;

/// <summary>
/// Options of a <see cref="RedisTier"/>. Validated once, by <see cref="RedisTier.ConnectAsync"/>, with an
/// <see cref="ArgumentException"/> whose message names the option. The layout of what is stored is
/// <c>format-spec/redis-tier.md</c>.
/// </summary>
/// <remarks>
/// Memory policy: Redis decides what survives, not KvTier. Run the server with <c>maxmemory</c> set and
/// <c>maxmemory-policy allkeys-lru</c> (or <c>allkeys-lfu</c>) so that old records make room for new ones. Under
/// <c>noeviction</c> a full Redis refuses writes (<c>OOM command not allowed</c>): puts then return false (dropped,
/// counted in <see cref="RedisTierStatistics.Errors"/>) while gets keep working. The <c>volatile-*</c> policies evict
/// only keys with a TTL, so use them only together with <see cref="TimeToLive"/>.
/// </remarks>
public sealed class RedisTierOptions
{
    /// <summary>Most endpoints one tier accepts (a cluster needs only a few seeds; the client discovers the rest).</summary>
    public const int MaxEndpoints = 64;

    /// <summary>Largest value <see cref="MaxRecordBytes"/> accepts: Redis's default <c>proto-max-bulk-len</c> (512 MiB) less the envelope.</summary>
    public const long MaxRecordBytesLimit = (512L << 20) - RecordEnvelope.HeaderSize;

    /// <summary>
    /// Where Redis is: one or more entries, each <c>host:port</c>, <c>redis://host[:port]</c> or
    /// <c>rediss://host[:port]</c> (TLS; port 6379 when omitted). For a cluster give any of its nodes; the client
    /// discovers the others and routes each key to its slot. Credentials never go here (they would end up in logs):
    /// use <see cref="User"/> and <see cref="Password"/>. Default: none (required).
    /// </summary>
    public IReadOnlyList<string> Endpoints { get; init; } = [];

    /// <summary>
    /// Prefix of every key this tier writes (<c>{Namespace}:rec:{64 hex digits}</c>): tiers with different namespaces
    /// never see each other's records on the same Redis. 1–64 characters of letters, digits, <c>-</c>, <c>_</c>,
    /// <c>.</c> and <c>/</c> (no braces, so keys carry no Redis Cluster hash tag and spread over all slots).
    /// Default: <c>kvtier</c>.
    /// </summary>
    public string Namespace { get; init; } = "kvtier";

    /// <summary>Redis ACL user name (Redis 6+), or null for the default user. Default: null.</summary>
    public string? User { get; init; }

    /// <summary>Password (<c>AUTH</c>), or null when the server has none. Never part of <see cref="RedisTier.Name"/>. Default: null.</summary>
    public string? Password { get; init; }

    /// <summary>
    /// Connect with TLS. Also switched on by a <c>rediss://</c> endpoint. The server certificate is checked against
    /// the system's trust store; use <see cref="Configure"/> for client certificates or a private CA. Default: false.
    /// </summary>
    public bool UseTls { get; init; }

    /// <summary>Host name expected in the server's TLS certificate, when it differs from the endpoint's host. Default: null (the endpoint's host).</summary>
    public string? TlsHost { get; init; }

    /// <summary>
    /// Logical database (<c>SELECT</c>) on a standalone server, 0–15 with Redis's default configuration; a cluster has
    /// only database 0. Default: 0.
    /// </summary>
    public int Database { get; init; }

    /// <summary>
    /// Expiry given to every record on put (Redis <c>PX</c>), counted from the put; a later put of the same key starts
    /// it again, gets do not. Null keeps records until Redis evicts them under its memory policy. Shorter lives bound
    /// memory without a memory policy but drop records that are still hot. Default: null (no expiry); at least 1 ms.
    /// </summary>
    public TimeSpan? TimeToLive { get; init; }

    /// <summary>
    /// Largest record a put sends, in bytes; larger ones are not sent and the put returns false (counted in
    /// <see cref="RedisTierStatistics.PutsTooLarge"/>); a get that finds a larger value treats it as corrupt without
    /// reading it into a record. Large values block a Redis thread while they are copied and evict many small ones.
    /// Default: 128 MiB; 1 KiB – <see cref="MaxRecordBytesLimit"/>.
    /// </summary>
    public long MaxRecordBytes { get; init; } = 128L << 20;

    /// <summary>
    /// The most one call may take, from its start to its answer, connection problems included: past it the call
    /// returns a miss (<c>null</c>, <c>false</c>, 0) and the Redis command is abandoned. Also Redis's own
    /// sync/async timeout. Long enough for the largest record over the network; short enough that the engine
    /// recomputes instead of waiting. Default: 1 s; 1 ms – 10 min.
    /// </summary>
    public TimeSpan OperationTimeout { get; init; } = TimeSpan.FromSeconds(1);

    /// <summary>
    /// Time allowed to open a connection (Redis's <c>connectTimeout</c>). Creating the tier waits at most this long;
    /// if Redis is not reachable by then the tier is created anyway and keeps reconnecting in the background, with
    /// calls answering misses meanwhile. Default: 2 s; 1 ms – 10 min.
    /// </summary>
    public TimeSpan ConnectTimeout { get; init; } = TimeSpan.FromSeconds(2);

    /// <summary>
    /// Consecutive failed calls (unreachable, timed out) after which the circuit opens: calls then answer a miss
    /// immediately, without contacting Redis, for <see cref="CircuitBreakerCooldown"/>. Lower opens sooner on a dead
    /// Redis; higher tolerates occasional timeouts. Errors Redis itself answers (such as <c>OOM</c>) do not count:
    /// the server is up. Default: 5; 1 – 1,000,000.
    /// </summary>
    public int CircuitBreakerFailureThreshold { get; init; } = 5;

    /// <summary>
    /// How long an open circuit stays open; then one call probes Redis and closes the circuit if it succeeds (or
    /// reopens it if not). Shorter notices a recovered Redis sooner at the cost of one timed-out call per cool-down
    /// while it is down. Default: 5 s; 1 ms – 1 h.
    /// </summary>
    public TimeSpan CircuitBreakerCooldown { get; init; } = TimeSpan.FromSeconds(5);

    /// <summary>
    /// Most keys <see cref="RedisTier.LongestPrefixAsync"/> asks about in its one round trip; keys past it are not
    /// looked up, so the answer is at most this. 256-token chunks: 4096 keys are a million-token prompt.
    /// Default: 4096; 1 – 1,000,000.
    /// </summary>
    public int MaxLongestPrefixKeys { get; init; } = 4096;

    /// <summary>
    /// Whether a get that finds a corrupt value deletes it (only if the value is still the one that was read, so a
    /// good record another client has just written survives). True frees the memory and lets the next put repair the
    /// key; false leaves it for inspection (every get of it then counts it again). Default: true.
    /// </summary>
    public bool DeleteCorruptRecords { get; init; } = true;

    /// <summary>
    /// Client name shown by Redis's <c>CLIENT LIST</c>. Default: <c>kvtier</c>.
    /// </summary>
    public string ClientName { get; init; } = "kvtier";

    /// <summary>
    /// Last word on the StackExchange.Redis configuration, called after every option above has been applied (client
    /// certificates, a certificate validation callback, a socket manager, a logger factory, …). What it changes is not
    /// validated here; changing the timeouts or <c>AbortOnConnectFail</c> can break the never-hang guarantee. Default: null.
    /// </summary>
    public Action<ConfigurationOptions>? Configure { get; init; }
}
