using KvTier.Prefetch;

namespace KvTier.LlamaSharp;

/// <summary>What <see cref="KvTierLlamaCache.PrefillAsync"/> did.</summary>
/// <param name="Logits">The logits of the prompt's last token (vocabulary size), owned by the caller.</param>
/// <param name="TokensReused">Leading tokens whose K and V were loaded from KvTier instead of evaluated (whole chunks).</param>
/// <param name="TokensComputed">Tokens the engine evaluated (always at least 1: the last token's logits are the result).</param>
/// <param name="ChunksReused">Chunks loaded.</param>
/// <param name="ChunksRejected">
/// Chunks the store listed but that were not used: corrupt (failed their checksums), of another layout or position, or
/// unreadable. Their tokens, and all after them, were evaluated instead.
/// </param>
/// <param name="Tier">
/// The tier that served the reused chunks (the slowest one when they came from several: memory, then disk, then remote);
/// null when nothing was reused.
/// </param>
public sealed record LlamaPrefillResult(float[] Logits, int TokensReused, int TokensComputed, int ChunksReused, int ChunksRejected, ChunkSource? Tier);
