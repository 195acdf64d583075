using System.Net.Sockets;
using System.Security.Cryptography;
using KvTier.Remote.Protocol;
using KvTier.Remote.Server;
using Nerdbank.Streams;

namespace KvTier.Remote.Tests;

/// <summary>A hand-driven client: raw handshake frames, then raw frames on multiplexed channels, for bad-input tests.</summary>
internal sealed class RawConnection : IAsyncDisposable
{
    private RawConnection(Socket socket, NetworkStream stream)
    {
        Socket = socket;
        Stream = stream;
    }

    public Socket Socket { get; }

    public NetworkStream Stream { get; }

    public MultiplexingStream? Mux { get; private set; }

    /// <summary>The stream under the multiplexer; pause it to stop reading the socket.</summary>
    public PausableStream? Reads { get; private set; }

    public static async Task<RawConnection> ConnectAsync(int port)
    {
        var socket = new Socket(SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        await socket.ConnectAsync("127.0.0.1", port);
        return new RawConnection(socket, new NetworkStream(socket, ownsSocket: true));
    }

    /// <summary>The welcome the server sent (§4; with the bulk session token from version 2 on).</summary>
    public Messages.Welcome Welcome { get; private set; }

    public static async Task<RawConnection> AuthenticatedAsync(int port, byte[] secret, ushort maxVersion = 1)
    {
        RawConnection c = await ConnectAsync(port);
        byte[] clientNonce = RandomNumberGenerator.GetBytes(ProtocolLimits.NonceSize);
        await c.SendHandshakeAsync(FrameType.Hello, Messages.EncodeHello(1, maxVersion, clientNonce));
        (ushort version, byte[] serverNonce) = Messages.DecodeChallenge((await c.ReadHandshakeAsync(FrameType.Challenge)).Payload);
        await c.SendHandshakeAsync(FrameType.Auth, SharedSecret.ClientProof(secret, version, serverNonce, clientNonce));
        using (ReceivedFrame welcome = await c.ReadHandshakeAsync(FrameType.Welcome))
            c.Welcome = Messages.DecodeWelcome(welcome.Payload, version);
        c.Reads = new PausableStream(c.Stream);
        c.Mux = await MultiplexingStream.CreateAsync(c.Reads, new MultiplexingStream.Options { ProtocolMajorVersion = 3 });
        return c;
    }

    public Task SendHandshakeAsync(FrameType type, byte[] payload) => FrameCodec.WriteHandshakeAsync(Stream, type, payload, CancellationToken.None).AsTask();

    public async Task<ReceivedFrame> ReadHandshakeAsync(FrameType expected)
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        return FrameCodec.ExpectHandshake(await FrameCodec.ReadHandshakeAsync(Stream, timeout.Token), expected);
    }

    /// <summary>Reads until the server closes the connection; the error frame it sent before, if any.</summary>
    public async Task<(RemoteErrorCode? Code, bool Closed)> ReadErrorAndCloseAsync()
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        RemoteErrorCode? code = null;
        try
        {
            using ReceivedFrame frame = await FrameCodec.ReadHandshakeAsync(Stream, timeout.Token);
            if (frame.Type == FrameType.Error)
                code = Messages.DecodeError(frame.Payload).Code;
        }
        catch (RemoteProtocolException)
        {
        }
        catch (IOException)
        {
        }
        var rest = new byte[256];
        int n;
        try
        {
            n = await Stream.ReadAsync(rest, timeout.Token);
        }
        catch (IOException)
        {
            n = 0;
        }
        return (code, n == 0);
    }

    /// <summary>Opens a channel, writes <paramref name="bytes"/> as they are, completes the writing side if asked, and reads the first reply frame.</summary>
    public async Task<(FrameType? Type, RemoteErrorCode? Code)> ExchangeAsync(byte[] bytes, bool completeWriting = true)
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        MultiplexingStream.Channel channel = await Mux!.OfferChannelAsync(ServerConnection.ChannelName, timeout.Token);
        try
        {
            await channel.Output.WriteAsync(bytes, timeout.Token);
            if (completeWriting)
                await channel.Output.CompleteAsync();
            using ReceivedFrame? reply = await FrameCodec.ReadAsync(channel.Input, ProtocolLimits.MaxFramePayload, timeout.Token);
            if (reply is null)
                return (null, null);
            return (reply.Type, reply.Type == FrameType.Error ? Messages.DecodeError(reply.Payload).Code : null);
        }
        finally
        {
            channel.Dispose();
        }
    }

    public static byte[] Frame(FrameType type, byte[] payload, bool end = true, uint requestId = 1)
    {
        var bytes = new byte[ProtocolLimits.FrameHeaderSize + payload.Length];
        new FrameHeader(payload.Length, type, end, requestId).Write(bytes);
        payload.CopyTo(bytes, ProtocolLimits.FrameHeaderSize);
        return bytes;
    }

    public async ValueTask DisposeAsync()
    {
        if (Mux is not null)
            await Mux.DisposeAsync();
        await Stream.DisposeAsync();
    }
}
