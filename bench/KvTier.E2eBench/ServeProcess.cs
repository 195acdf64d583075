using System.Diagnostics;
using KvTier.Bench.Shared;
using KvTier.Remote;

namespace KvTier.E2eBench;

/// <summary>
/// A real <c>kvtier serve</c> process (the CLI's Release build) on loopback over a fresh store, with a token file, as
/// the server harness starts it. The records are put through <see cref="Client"/>; the engine's store reaches it through
/// a <see cref="RemoteTier"/> built from <see cref="ClientOptions"/>.
/// </summary>
/// <remarks>Used from the harness's one thread.</remarks>
internal sealed class ServeProcess : IAsyncDisposable
{
    private readonly Process _server;

    private ServeProcess(Process server, KvCacheClient client, KvCacheClientOptions options, string endpoint)
    {
        _server = server;
        Client = client;
        ClientOptions = options;
        Endpoint = endpoint;
    }

    public KvCacheClient Client { get; }

    public KvCacheClientOptions ClientOptions { get; }

    public string Endpoint { get; }

    /// <summary>Starts <c>kvtier serve</c> from <paramref name="cliDll"/>; null with a reason when it cannot.</summary>
    public static async Task<(ServeProcess? Server, string? Why)> StartAsync(string cliDll, string scratch)
    {
        (ServeLauncher.Started? started, string? why) = await ServeLauncher.StartAsync(cliDll, scratch, TimeSpan.FromSeconds(30));
        return started is null ? (null, why) : (new ServeProcess(started.Server, started.Client, started.Options, started.Endpoint), null);
    }

    public async ValueTask DisposeAsync()
    {
        await Client.DisposeAsync();
        if (!_server.HasExited)
        {
            _server.Kill(); // SIGKILL: its store is scratch.
            await _server.WaitForExitAsync();
        }
        _server.Dispose();
    }
}
