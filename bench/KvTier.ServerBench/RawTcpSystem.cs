using System.Buffers.Binary;
using System.Net;
using System.Net.Sockets;
using KvTier.Keys;
using KvTier.StoreBench;

namespace KvTier.ServerBench;

/// <summary>
/// The loopback limit: a bare TCP server in this process that, per request (1 byte op, 8 bytes length), either swallows
/// that many bytes and answers one byte (put) or sends that many bytes from memory (get). No framing, checks, storage or
/// copies beyond the socket's: what any protocol over one TCP connection can at best reach.
/// </summary>
internal sealed class RawTcpSystem : IBenchSystem
{
    private readonly TcpListener _listener;
    private readonly Task _server;
    private readonly TcpClient _client;
    private readonly NetworkStream _stream;
    private readonly byte[] _sink;
    private readonly byte[] _header = new byte[9];

    private RawTcpSystem(TcpListener listener, Task server, TcpClient client, int maxBytes)
    {
        _listener = listener;
        _server = server;
        _client = client;
        _stream = client.GetStream();
        _sink = new byte[maxBytes];
    }

    public string Name => "raw tcp";

    public string Description => "bare loopback TCP, one connection, no framing or storage (the limit)";

    public static async Task<RawTcpSystem> StartAsync(int maxBytes)
    {
        var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        Task server = Task.Run(() => ServeAsync(listener, maxBytes));
        var client = new TcpClient { NoDelay = true };
        await client.ConnectAsync(IPAddress.Loopback, ((IPEndPoint)listener.LocalEndpoint).Port);
        return new RawTcpSystem(listener, server, client, maxBytes);
    }

    public async Task PutAsync(BenchRecord record)
    {
        WriteHeader(1, record.Bytes.Length);
        await _stream.WriteAsync(_header);
        await _stream.WriteAsync(record.Bytes);
        await _stream.ReadExactlyAsync(_header.AsMemory(0, 1));
    }

    public async Task<int> GetAsync(BenchRecord record)
    {
        WriteHeader(2, record.Bytes.Length);
        await _stream.WriteAsync(_header);
        await _stream.ReadExactlyAsync(_sink.AsMemory(0, record.Bytes.Length));
        return record.Bytes.Length;
    }

    public Task<int>? LookupAsync(ChunkKey[] keys) => null;

    private void WriteHeader(byte op, long length)
    {
        _header[0] = op;
        BinaryPrimitives.WriteInt64LittleEndian(_header.AsSpan(1), length);
    }

    private static async Task ServeAsync(TcpListener listener, int maxBytes)
    {
        try
        {
            using TcpClient connection = await listener.AcceptTcpClientAsync();
            connection.NoDelay = true;
            NetworkStream stream = connection.GetStream();
            var buffer = new byte[maxBytes];
            var header = new byte[9];
            while (true)
            {
                await stream.ReadExactlyAsync(header);
                int length = checked((int)BinaryPrimitives.ReadInt64LittleEndian(header.AsSpan(1)));
                if (header[0] == 1)
                {
                    await stream.ReadExactlyAsync(buffer.AsMemory(0, length));
                    await stream.WriteAsync(header.AsMemory(0, 1));
                }
                else
                {
                    await stream.WriteAsync(buffer.AsMemory(0, length));
                }
            }
        }
        catch (Exception ex) when (ex is IOException or SocketException or ObjectDisposedException or EndOfStreamException)
        {
            // The client closed the connection: the run is over.
        }
    }

    public async ValueTask DisposeAsync()
    {
        _client.Dispose();
        _listener.Stop();
        await _server;
    }
}
