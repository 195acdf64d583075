using System.Net.Sockets;

namespace KvTier.Remote.Protocol;

// One bulk lane (format-spec/protocol.md §12), on either side: a plain TCP (or TLS) stream beside the multiplexed
// connection that carries whole record bodies, one at a time in each direction. Concurrency: Send is held by the one
// request writing a body to the lane, Receive by the one reading a body from it (the client's reader loop reads without
// it: it is the lane's only reader, and the only caller of SetReceiveLowWater); Close may be called from any thread,
// once it counts.
internal sealed class BulkLane(int number, Stream stream, Socket socket)
{
    private int _closed;
    private int _receiveLowWater = 1; // the kernel's default
    private bool _lowWaterUnsupported = stream is not NetworkStream || !OperatingSystem.IsLinux();

    public int Number { get; } = number;

    public Stream Stream { get; } = stream;

    /// <summary>Held while a body is written to the lane.</summary>
    public SemaphoreSlim Send { get; } = new(1, 1);

    /// <summary>Held while a body is read from the lane (the server's puts).</summary>
    public SemaphoreSlim Receive { get; } = new(1, 1);

    public bool IsClosed => Volatile.Read(ref _closed) != 0;

    /// <summary>
    /// Asks the kernel to wake the lane's reader only once <paramref name="bytes"/> are queued (or the lane ends):
    /// <c>SO_RCVLOWAT</c>. A 32 MiB body otherwise wakes its reader for every few tens of KiB that arrive, each wake two
    /// context switches (the socket engine's thread, then a pool thread), which on a small, busy machine cost as much as
    /// the copies. The caller never asks for more than the bytes still due, so a read always completes. Plain TCP on
    /// Linux only: under TLS the socket carries ciphertext that the TLS stream reads ahead, so no plaintext count is safe.
    /// </summary>
    public void SetReceiveLowWater(int bytes)
    {
        if (_lowWaterUnsupported || bytes == _receiveLowWater)
            return;
        try
        {
            socket.SetSocketOption(SocketOptionLevel.Socket, SocketOptionName.ReceiveLowWater, bytes);
            _receiveLowWater = bytes;
        }
        catch (Exception e) when (e is SocketException or ObjectDisposedException)
        {
            _lowWaterUnsupported = true; // Reads then wake as data arrives, as without it; a closed lane fails its read.
        }
    }

    /// <summary>Closes the lane's connection; true for the call that closed it.</summary>
    public bool Close()
    {
        if (Interlocked.Exchange(ref _closed, 1) != 0)
            return false;
        try
        {
            Stream.Dispose();
        }
        catch (Exception)
        {
            // A TLS close notify to a peer that is gone: the socket is closed below either way.
        }
        socket.Dispose();
        return true;
    }

    /// <summary>
    /// A lane of <paramref name="lanes"/> free to carry a body now, with its <see cref="Send"/> taken (the caller releases
    /// it), or null (the body then takes the multiplexer). Starts at a rotating index so that bodies spread over lanes.
    /// </summary>
    public static BulkLane? TryTakeSendLane(BulkLane?[] lanes, ref int next)
    {
        int start = (int)((uint)Interlocked.Increment(ref next) % (uint)lanes.Length);
        for (int i = 0; i < lanes.Length; i++)
        {
            BulkLane? lane = Volatile.Read(ref lanes[(start + i) % lanes.Length]);
            if (lane is null || lane.IsClosed || !lane.Send.Wait(0))
                continue;
            if (!lane.IsClosed)
                return lane;
            lane.Send.Release();
        }
        return null;
    }
}
