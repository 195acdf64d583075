namespace KvTier.Reference;

/// <summary>Greedy (temperature 0) token choice, as llama2.c's <c>sample_argmax</c>.</summary>
/// <remarks>Stateless; safe from any thread.</remarks>
public static class GreedySampler
{
    /// <summary>Index of the largest logit; the first one on ties. Comparisons are C's: a NaN is never chosen over an earlier value, and a NaN at index 0 is never beaten.</summary>
    /// <param name="logits">At least one value.</param>
    /// <returns>The chosen token id.</returns>
    /// <exception cref="ArgumentException"><paramref name="logits"/> is empty.</exception>
    public static int Argmax(ReadOnlySpan<float> logits)
    {
        if (logits.IsEmpty)
            throw new ArgumentException("No logits to choose from.", nameof(logits));
        int best = 0;
        float bestValue = logits[0];
        for (int i = 1; i < logits.Length; i++)
        {
            if (logits[i] > bestValue)
            {
                best = i;
                bestValue = logits[i];
            }
        }

        return best;
    }
}
