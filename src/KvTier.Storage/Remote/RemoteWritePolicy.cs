namespace KvTier.Storage.Remote;

/// <summary>What a store does with its puts when it has a remote tier (<see cref="KvStoreOptions.RemoteWrites"/>).</summary>
public enum RemoteWritePolicy
{
    /// <summary>Puts stay local; the remote tier is only read.</summary>
    None = 0,

    /// <summary>
    /// A put is acknowledged once it is durable locally; then it is queued and sent to the remote tier in the background
    /// (<see cref="KvStoreOptions.RemoteWriteQueueLength"/>). A remote that is down or slow never delays a put: what
    /// cannot be sent is dropped and counted.
    /// </summary>
    WriteBehind = 1,
}
