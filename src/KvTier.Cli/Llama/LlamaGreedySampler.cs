using KvTier.LlamaSharp;
using KvTier.Reference;
using LLama.Native;

namespace KvTier.Cli.Llama;

/// <summary>
/// Greedy generation through a <see cref="KvTierLlamaCache"/>: each step takes the most likely token (the first of equal
/// ones) and evaluates it, so that two runs from the same logits produce the same tokens and the sequence holds them all.
/// </summary>
/// <remarks>Calls use the cache's llama.cpp context, which is not thread-safe: they must not overlap with any other use of it.</remarks>
internal static class LlamaGreedySampler
{
    /// <summary>
    /// <paramref name="count"/> greedy tokens after <paramref name="logits"/>, each evaluated at the next position (the
    /// first at <paramref name="position"/>).
    /// </summary>
    /// <param name="cache">The cache whose context holds the sequence.</param>
    /// <param name="logits">The logits of the token before <paramref name="position"/>.</param>
    /// <param name="position">Where the first generated token goes: the number of tokens the sequence holds.</param>
    /// <param name="sequence">The sequence.</param>
    /// <param name="count">Tokens to generate, 0 or more; <paramref name="position"/> + <paramref name="count"/> must fit the context.</param>
    /// <param name="cancellationToken">Cancels between tokens.</param>
    public static async Task<int[]> GenerateAsync(KvTierLlamaCache cache, float[] logits, int position, LLamaSeqId sequence, int count,
        CancellationToken cancellationToken = default)
    {
        var tokens = new int[count];
        for (int i = 0; i < count; i++)
        {
            tokens[i] = GreedySampler.Argmax(logits);
            logits = await cache.EvaluateAsync(new[] { tokens[i] }, position + i, sequence, cancellationToken).ConfigureAwait(false);
        }

        return tokens;
    }
}
