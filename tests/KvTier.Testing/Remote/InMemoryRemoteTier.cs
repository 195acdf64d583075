using System.Collections.Concurrent;
using KvTier.Format;
using KvTier.Keys;
using KvTier.Storage.Remote;

namespace KvTier.Testing.Remote;

/// <summary>
/// A remote tier held in a dictionary, with switches for the failures a real one has: down (every call misses or
/// drops), corrupting what it returns, and a gate that holds puts until released. Counts calls. Thread-safe.
/// </summary>
public sealed class InMemoryRemoteTier : IRemoteTier
{
    private readonly ConcurrentDictionary<ChunkKey, byte[]> _records = new();
    private TaskCompletionSource _putGate = CompletedGate();
    private int _gets, _puts, _prefixCalls;

    /// <inheritdoc/>
    public string Name => "memory://test";

    /// <summary>While true, every call fails as a dead remote would: gets miss, puts drop, lookups find nothing.</summary>
    public bool Down { get; set; }

    /// <summary>While set, a get returns the stored bytes passed through this function (to return damaged records).</summary>
    public Func<byte[], byte[]>? Tamper { get; set; }

    /// <summary>Records held.</summary>
    public int Count => _records.Count;

    /// <summary>Calls to <see cref="TryGetAsync"/>.</summary>
    public int Gets => Volatile.Read(ref _gets);

    /// <summary>Calls to <see cref="PutAsync"/>.</summary>
    public int Puts => Volatile.Read(ref _puts);

    /// <summary>Calls to <see cref="LongestPrefixAsync"/>.</summary>
    public int PrefixCalls => Volatile.Read(ref _prefixCalls);

    /// <summary>Makes puts wait until <see cref="ReleasePuts"/>.</summary>
    public void HoldPuts() => _putGate = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);

    /// <summary>Lets held puts (and later ones) through.</summary>
    public void ReleasePuts() => _putGate.TrySetResult();

    /// <summary>Stores a record directly, as another instance would have.</summary>
    public void Seed(byte[] record) => _records[ChunkRecord.Parse(record).Header.Key] = record.ToArray();

    /// <summary>The bytes held under <paramref name="key"/>, or null.</summary>
    public byte[]? Peek(ChunkKey key) => _records.TryGetValue(key, out byte[]? bytes) ? bytes : null;

    /// <inheritdoc/>
    public ValueTask<byte[]?> TryGetAsync(ChunkKey key, CancellationToken cancellationToken = default)
    {
        Interlocked.Increment(ref _gets);
        cancellationToken.ThrowIfCancellationRequested();
        if (Down || !_records.TryGetValue(key, out byte[]? bytes))
            return ValueTask.FromResult<byte[]?>(null);
        byte[] copy = bytes.ToArray();
        return ValueTask.FromResult<byte[]?>(Tamper is { } tamper ? tamper(copy) : copy);
    }

    /// <inheritdoc/>
    public async ValueTask<bool> PutAsync(ReadOnlyMemory<byte> record, CancellationToken cancellationToken = default)
    {
        Interlocked.Increment(ref _puts);
        ChunkRecord parsed = ChunkRecord.Parse(record.ToArray());
        await _putGate.Task.WaitAsync(cancellationToken).ConfigureAwait(false);
        if (Down)
            return false;
        _records[parsed.Header.Key] = record.ToArray();
        return true;
    }

    /// <inheritdoc/>
    public ValueTask<int> LongestPrefixAsync(IReadOnlyList<ChunkKey> keys, CancellationToken cancellationToken = default)
    {
        Interlocked.Increment(ref _prefixCalls);
        int n = 0;
        while (!Down && n < keys.Count && _records.ContainsKey(keys[n]))
            n++;
        return ValueTask.FromResult(n);
    }

    /// <inheritdoc/>
    public ValueTask<bool> DeleteAsync(ChunkKey key, CancellationToken cancellationToken = default) =>
        ValueTask.FromResult(!Down && _records.TryRemove(key, out _));

    /// <inheritdoc/>
    public ValueTask DisposeAsync() => ValueTask.CompletedTask;

    private static TaskCompletionSource CompletedGate()
    {
        var gate = new TaskCompletionSource();
        gate.SetResult();
        return gate;
    }
}
