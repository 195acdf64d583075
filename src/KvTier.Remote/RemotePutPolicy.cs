namespace KvTier.Remote;

/// <summary>What <see cref="RemoteTier.PutAsync"/> does with a record when the server cannot take it now.</summary>
public enum RemotePutPolicy
{
    /// <summary>Drop it: the remote tier is a cache, and the record can be computed again.</summary>
    Drop,

    /// <summary>Keep it in a bounded in-memory queue and put it when the server is back; the oldest are dropped when the queue is full.</summary>
    Queue,
}
