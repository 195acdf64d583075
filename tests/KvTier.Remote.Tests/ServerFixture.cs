using KvTier.Storage;

namespace KvTier.Remote.Tests;

/// <summary>A store in a temporary directory and a server over it on 127.0.0.1, port 0; restartable over the same directory.</summary>
internal sealed class ServerFixture : IAsyncDisposable
{
    public static readonly byte[] Secret = SharedSecret.FromString("test-secret-0123456789abcdef");

    private ServerFixture(string directory, KvCacheServerOptions options)
    {
        Directory = directory;
        Options = options;
        Server = StartServer();
    }

    public string Directory { get; }

    public KvCacheServerOptions Options { get; }

    public KvCacheServer Server { get; private set; }

    public int Port => Server.Endpoint.Port;

    public CapturingLogger Log { get; } = new();

    public static ServerFixture Start(Func<KvCacheServerOptions, KvCacheServerOptions>? configure = null)
    {
        string dir = Path.Combine(Path.GetTempPath(), "kvtier-remote-tests", Guid.NewGuid().ToString("N"));
        var options = new KvCacheServerOptions { Secret = Secret };
        return new ServerFixture(dir, configure?.Invoke(options) ?? options);
    }

    /// <summary>A server over an existing directory on a given port (a server that comes back where it was).</summary>
    public static ServerFixture StartOn(string directory, int port) =>
        new(directory, new KvCacheServerOptions { Secret = Secret, Endpoint = new System.Net.IPEndPoint(System.Net.IPAddress.Loopback, port) });

    public KvCacheClientOptions ClientOptions(Func<KvCacheClientOptions, KvCacheClientOptions>? configure = null)
    {
        var options = new KvCacheClientOptions { Host = "127.0.0.1", Port = Port, Secret = Secret };
        return configure?.Invoke(options) ?? options;
    }

    public Task<KvCacheClient> ConnectAsync(Func<KvCacheClientOptions, KvCacheClientOptions>? configure = null) =>
        KvCacheClient.ConnectAsync(ClientOptions(configure));

    /// <summary>Stops the server and closes its store, then opens the store again and serves it on a new port.</summary>
    public async Task RestartAsync()
    {
        await Server.DisposeAsync();
        Server = StartServer();
    }

    private KvCacheServer StartServer()
    {
        KvStore store = KvStore.Open(new KvStoreOptions
        {
            Directory = Directory, MemoryCapacityBytes = 4 << 20, SegmentSizeBytes = 8 << 20, BackgroundCompaction = false,
        });
        return KvCacheServer.Start(store, Options, Log, ownsStore: true);
    }

    public async ValueTask DisposeAsync()
    {
        await Server.DisposeAsync();
        try
        {
            System.IO.Directory.Delete(Directory, recursive: true);
        }
        catch (IOException)
        {
        }
    }
}
