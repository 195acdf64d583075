using System.Buffers;

namespace KvTier.Remote;

/// <summary>
/// A record read into an array rented from a pool (<see cref="KvCacheClient.GetAsync(KvTier.Keys.ChunkKey, ArrayPool{byte}, CancellationToken)"/>):
/// its bytes are valid until <see cref="Dispose"/>, which gives the array back. Not thread-safe; dispose it once, after
/// the last use of <see cref="Bytes"/>.
/// </summary>
public sealed class PooledRecord : IDisposable
{
    private readonly ArrayPool<byte> _pool;
    private byte[]? _array;
    private readonly int _length;

    internal PooledRecord(ArrayPool<byte> pool, byte[] array, int length)
    {
        _pool = pool;
        _array = array;
        _length = length;
    }

    /// <summary>The record's bytes (checked: header, every section checksum, its key).</summary>
    /// <exception cref="ObjectDisposedException">The record was disposed.</exception>
    public ReadOnlyMemory<byte> Bytes => (_array ?? throw new ObjectDisposedException(nameof(PooledRecord))).AsMemory(0, _length);

    /// <summary>Bytes in the record.</summary>
    public int Length => _length;

    /// <summary>Gives the array back to its pool.</summary>
    public void Dispose()
    {
        byte[]? array = Interlocked.Exchange(ref _array, null);
        if (array is not null)
            _pool.Return(array);
    }
}
