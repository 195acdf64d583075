namespace KvTier.LlamaSharp;

/// <summary>What <see cref="KvTierLlamaCache.StoreAsync"/> did.</summary>
/// <param name="ChunksStored">Whole chunks encoded and put.</param>
/// <param name="ChunksPresent">Whole chunks the store already held (not encoded again).</param>
/// <param name="TokensNotStored">Trailing tokens of a partial last chunk, which are not stored (only whole chunks are looked up).</param>
public sealed record LlamaStoreResult(int ChunksStored, int ChunksPresent, int TokensNotStored);
