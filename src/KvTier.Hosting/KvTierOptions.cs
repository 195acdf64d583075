using KvTier.Keys;
using KvTier.Prefetch;
using KvTier.Redis;
using KvTier.Storage;

namespace KvTier.Hosting;

/// <summary>
/// Everything a service configures about KvTier, bound from the <c>KvTier</c> configuration section
/// (<see cref="KvTierConfiguration.AddKvTierSources(Microsoft.Extensions.Configuration.IConfigurationBuilder)"/>) and
/// from code (<see cref="KvTierServiceCollectionExtensions.AddKvTier(Microsoft.Extensions.DependencyInjection.IServiceCollection, Action{KvTierOptions})"/>).
/// Validated once, when the options are first used (at start-up with <c>ValidateOnStart</c>), with messages that name the
/// option by its configuration path, such as <c>KvTier:Store:SegmentSizeBytes</c>.
/// </summary>
/// <remarks>
/// Unlike the component options, the root's properties are settable: the options pattern configures one instance in
/// steps (defaults, then the file, the environment, then code), and code overrides replace whole component options
/// (<c>o.Store = o.Store with { Directory = "/var/cache/kvtier" }</c>).
/// </remarks>
public sealed class KvTierOptions
{
    /// <summary>The configuration section KvTier reads: <c>KvTier</c>.</summary>
    public const string SectionName = "KvTier";

    /// <summary>
    /// The local store (memory and disk tiers), as <see cref="KvStoreOptions"/>; <c>Store:Directory</c> is required.
    /// The remote write policy is <see cref="KvStoreOptions.RemoteWrites"/> (<c>Store:RemoteWrites</c>, default
    /// write-behind) and its queue <see cref="KvStoreOptions.RemoteWriteQueueLength"/>. Default: the store's defaults, no directory.
    /// </summary>
    public KvStoreOptions Store { get; set; } = new() { Directory = "" };

    /// <summary>The prefetcher that streams stored chunks into an engine's KV buffers. Default: <see cref="PrefetcherOptions"/>'s defaults.</summary>
    public PrefetcherOptions Prefetcher { get; set; } = new();

    /// <summary>
    /// A shared <c>kvtier serve</c> server as the store's remote tier. Default: null (none). At most one of
    /// <see cref="Remote"/> and <see cref="Redis"/> may be set.
    /// </summary>
    public RemoteServerOptions? Remote { get; set; }

    /// <summary>A Redis (cluster) as the store's remote tier. Default: null (none). At most one of <see cref="Remote"/> and <see cref="Redis"/> may be set.</summary>
    public RedisTierOptions? Redis { get; set; }

    /// <summary>
    /// The key namespace the service derives its chunk keys in (<see cref="ChunkKeys.Namespace"/>): tenants with different
    /// namespaces never share a record. At most <see cref="ChunkKeys.MaxNamespaceBytes"/> bytes of UTF-8. Default: "" (shared).
    /// </summary>
    public string KeyNamespace { get; set; } = "";

    /// <summary>
    /// Tokens per chunk the service derives its keys with (<see cref="ChunkKeys.ChunkTokens"/>), 1 to
    /// <see cref="ChunkKeys.MaxChunkTokens"/>. Smaller chunks find more partial reuse; larger ones mean fewer records and
    /// lookups. Default: 256.
    /// </summary>
    public int ChunkTokens { get; set; } = ChunkKeys.DefaultChunkTokens;
}
