using System.Diagnostics.Metrics;
using KvTier.Keys;
using KvTier.Remote;
using KvTier.Storage;
using KvTier.Storage.Remote;
using KvTier.Testing.Records;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.Metrics.Testing;
using Microsoft.Extensions.Logging;
using Xunit;

namespace KvTier.Hosting.Tests;

/// <summary>
/// With KvTier:Remote configured, the container's store falls through to a real in-process <c>kvtier serve</c> server;
/// remote hits are counted per tier, and the breaker opening when the server goes away is logged and published.
/// </summary>
public sealed class RemoteTierRegistrationTests : IDisposable
{
    private const string Token = "hosting-remote-token-0123456789abcdef";
    private readonly TempDirectory _temp = new();

    public void Dispose() => _temp.Dispose();

    [Fact]
    public async Task The_store_reads_through_the_configured_server_and_the_breaker_opening_is_logged()
    {
        ChunkKey key = TestRecords.Key(7);
        KvStore serverStore = KvStore.Open(new KvStoreOptions { Directory = _temp.Sub("server"), MemoryCapacityBytes = 0, SegmentSizeBytes = 1 << 20 });
        serverStore.Put(TestRecords.Create(key));
        KvCacheServer server = KvCacheServer.Start(serverStore, new KvCacheServerOptions { Secret = SharedSecret.FromString(Token) }, ownsStore: true);
        try
        {
            string tokenFile = _temp.File("token", Token);
            var services = new ServiceCollection();
            services.AddMetrics();
            services.AddSingleton<LogSink>();
            services.AddSingleton(typeof(ILogger<>), typeof(CapturingLogger<>));
            services.AddKvTier(o =>
            {
                o.Store = o.Store with { Directory = _temp.Sub("client"), MemoryCapacityBytes = 0, SegmentSizeBytes = 1 << 20 };
                o.Remote = new RemoteServerOptions
                {
                    Host = "127.0.0.1", Port = server.Endpoint.Port, TokenFile = tokenFile,
                    CallTimeout = TimeSpan.FromSeconds(2), MaxRetries = 0, CircuitBreakerThreshold = 1, CircuitBreakerCooldown = TimeSpan.FromMinutes(5),
                };
            });
            await using ServiceProvider provider = services.BuildServiceProvider();
            using var hits = new MetricCollector<long>(provider.GetRequiredService<IMeterFactory>(), KvTierInstruments.MeterName, KvTierInstruments.StoreHits);
            using var circuit = new MetricCollector<long>(provider.GetRequiredService<IMeterFactory>(), KvTierInstruments.MeterName, KvTierInstruments.RemoteCircuitOpen);

            KvStore store = provider.GetRequiredService<KvStore>();
            Assert.NotNull(provider.GetService<IRemoteTier>());
            Assert.NotNull(store.Options.RemoteTier);
            using (RecordLease? lease = await store.GetAsync(key))
                Assert.NotNull(lease);
            hits.RecordObservableInstruments();
            Assert.Equal(1, hits.GetMeasurementSnapshot().Last(m => (string?)m.Tags[KvTierInstruments.TierTag] == "remote").Value);
            circuit.RecordObservableInstruments();
            Assert.Equal(0, circuit.LastMeasurement!.Value);

            await server.DisposeAsync();
            Assert.Null(await store.GetAsync(TestRecords.Key(8)));
            LogSink sink = provider.GetRequiredService<LogSink>();
            Assert.Contains(sink.Entries, e => e.Id.Id == 5 && e.Level == LogLevel.Warning && e.Message.Contains("circuit breaker opened", StringComparison.Ordinal));
            circuit.RecordObservableInstruments();
            Assert.Equal(1, circuit.LastMeasurement!.Value);
        }
        finally
        {
            await server.DisposeAsync();
        }
    }
}
