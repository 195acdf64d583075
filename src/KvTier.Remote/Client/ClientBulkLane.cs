using System.Net.Sockets;

namespace KvTier.Remote.Client;

// One bulk lane of a client (format-spec/protocol.md §12): a plain TCP (or TLS) stream beside the multiplexed
// connection. Concurrency: one reader loop reads get bodies from it; Send is held by the one put writing a body to it;
// Close may be called from any thread, once it counts.
internal sealed class ClientBulkLane(int number, Stream stream, Socket socket)
{
    private int _closed;

    public int Number { get; } = number;

    public Stream Stream { get; } = stream;

    /// <summary>Held while a put body is written to the lane (client to server).</summary>
    public SemaphoreSlim Send { get; } = new(1, 1);

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
            // A TLS close notify to a server that is gone: the socket is closed below either way.
        }
        socket.Dispose();
        return true;
    }
}
