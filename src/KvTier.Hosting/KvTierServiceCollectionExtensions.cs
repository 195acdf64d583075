using System.Diagnostics.Metrics;
using KvTier.Prefetch;
using KvTier.Redis;
using KvTier.Remote;
using KvTier.Storage;
using KvTier.Storage.Remote;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;

namespace KvTier.Hosting;

/// <summary>
/// <c>services.AddKvTier(...)</c>: KvTier's options (bound, validated at start-up), its store, prefetcher, remote tier and
/// metrics as singletons of the container.
/// </summary>
/// <remarks>
/// Registered: <see cref="KvTierOptions"/> (<see cref="IOptions{TOptions}"/>, validated with <c>ValidateOnStart</c>: a
/// host fails to start, naming the option; without a host the first resolution fails), <see cref="KvTierMetrics"/>,
/// <see cref="KvStore"/> (opened on first resolution, disposed with the container), <see cref="Prefetcher"/> (created on
/// first resolution) and <see cref="IRemoteTier"/> (the configured <see cref="RemoteTier"/> or <see cref="RedisTier"/>;
/// <c>GetService&lt;IRemoteTier&gt;()</c> is null when none is configured). The container disposes the prefetcher, then
/// the store, then the remote tier. Logging goes to <see cref="ILogger{TCategoryName}"/> when the container has logging.
/// </remarks>
public static class KvTierServiceCollectionExtensions
{
    /// <summary>
    /// Adds KvTier bound from <paramref name="configuration"/> (the <c>KvTier</c> section, for instance
    /// <c>configuration.GetSection(KvTierOptions.SectionName)</c> after
    /// <see cref="KvTierConfiguration.AddKvTierSources(IConfigurationBuilder)"/>), then <paramref name="configure"/> over it.
    /// </summary>
    /// <param name="services">The services.</param>
    /// <param name="configuration">The <c>KvTier</c> section.</param>
    /// <param name="configure">Code overrides, applied after the configuration; optional.</param>
    /// <returns><paramref name="services"/>.</returns>
    public static IServiceCollection AddKvTier(this IServiceCollection services, IConfiguration configuration, Action<KvTierOptions>? configure = null)
    {
        ArgumentNullException.ThrowIfNull(services);
        ArgumentNullException.ThrowIfNull(configuration);
        OptionsBuilder<KvTierOptions> options = services.AddOptions<KvTierOptions>().Bind(configuration);
        if (configure is not null)
            options.Configure(configure);
        return AddCore(services, options);
    }

    /// <summary>Adds KvTier configured in code alone.</summary>
    /// <param name="services">The services.</param>
    /// <param name="configure">Sets the options (at least <c>Store.Directory</c>).</param>
    /// <returns><paramref name="services"/>.</returns>
    public static IServiceCollection AddKvTier(this IServiceCollection services, Action<KvTierOptions> configure)
    {
        ArgumentNullException.ThrowIfNull(services);
        ArgumentNullException.ThrowIfNull(configure);
        return AddCore(services, services.AddOptions<KvTierOptions>().Configure(configure));
    }

    private static IServiceCollection AddCore(IServiceCollection services, OptionsBuilder<KvTierOptions> options)
    {
        options.ValidateOnStart();
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<KvTierOptions>, KvTierOptionsValidator>());
        services.TryAddSingleton(sp => new KvTierMetrics(sp.GetService<IMeterFactory>()));
        services.TryAddSingleton(CreateRemoteTier);
        services.TryAddSingleton(sp => new KvStoreLifetime(StoreOptions(sp), sp.GetRequiredService<KvTierMetrics>(), Logger<KvStore>(sp)));
        services.TryAddSingleton(sp => sp.GetRequiredService<KvStoreLifetime>().Store);
        services.TryAddSingleton(CreatePrefetcher);
        return services;
    }

    private static KvStoreOptions StoreOptions(IServiceProvider services)
    {
        KvTierOptions options = services.GetRequiredService<IOptions<KvTierOptions>>().Value;
        IRemoteTier? remote = services.GetService<IRemoteTier>();
        return remote is null ? options.Store : options.Store with { RemoteTier = remote };
    }

    private static IRemoteTier CreateRemoteTier(IServiceProvider services)
    {
        KvTierOptions options = services.GetRequiredService<IOptions<KvTierOptions>>().Value;
        IRemoteTier tier;
        if (options.Remote is { } remote)
            tier = new RemoteTier(remote.ToRemoteTierOptions(SharedSecret.ReadTokenFile(remote.TokenFile)), Logger<RemoteTier>(services));
        else if (options.Redis is { } redis)
            tier = RedisTier.ConnectAsync(redis).GetAwaiter().GetResult();
        else
            return null!; // None configured: GetService<IRemoteTier>() is null.
        services.GetRequiredService<KvTierMetrics>().Observe(tier);
        ILogger logger = Logger<IRemoteTier>(services);
        KvTierLog.RemoteTierCreated(logger, tier.Name);
        return new ObservedRemoteTier(tier, logger);
    }

    private static Prefetcher CreatePrefetcher(IServiceProvider services)
    {
        KvTierOptions options = services.GetRequiredService<IOptions<KvTierOptions>>().Value;
        var prefetcher = new Prefetcher(services.GetRequiredService<KvStore>(), options.Prefetcher);
        PrefetcherStatistics s = prefetcher.GetStatistics();
        KvTierLog.PrefetcherCreated(Logger<Prefetcher>(services), s.Decoder, s.StagingBudgetBytes);
        services.GetRequiredService<KvTierMetrics>().Observe(prefetcher);
        return prefetcher;
    }

    private static ILogger Logger<T>(IServiceProvider services) =>
        (ILogger?)services.GetService<ILogger<T>>() ?? NullLogger<T>.Instance;
}
