using System.Net.Sockets;

namespace KvTier.Remote.Server;

// One attached bulk lane of a connection (format-spec/protocol.md §12): a plain TCP (or TLS) stream that carries whole
// record bodies, one at a time in each direction. Concurrency: Send is held by the one get writing a body to the lane,
// Receive by the one put reading a body from it; Close may be called from any thread, once it counts.
internal sealed class ServerBulkLane(int number, Stream stream, Socket socket)
{
    private int _closed;

    public int Number { get; } = number;

    public Stream Stream { get; } = stream;

    /// <summary>Held while a get body is written to the lane (server to client).</summary>
    public SemaphoreSlim Send { get; } = new(1, 1);

    /// <summary>Held while a put body is read from the lane (client to server).</summary>
    public SemaphoreSlim Receive { get; } = new(1, 1);

    public bool IsClosed => Volatile.Read(ref _closed) != 0;

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
}
