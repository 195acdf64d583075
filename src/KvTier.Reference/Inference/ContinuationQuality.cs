namespace KvTier.Reference;

/// <summary>
/// How much a model's behaviour changes when it continues from reused KV (decoded, blended, …) instead of the
/// exact KV: the measure codec and blending quality are judged by.
/// </summary>
/// <remarks>Stateless; safe to call from any thread (each call uses its own sessions).</remarks>
public static class ContinuationQuality
{
    /// <summary>
    /// Next-token distributions after feeding <paramref name="tokens"/><c>[start + k]</c> at positions <c>start + k</c>,
    /// k = 0 … <paramref name="steps"/> − 1, continuing from <paramref name="cache"/> (which holds positions <c>[0, start)</c>).
    /// </summary>
    public static float[][] NextTokenDistributions(LlamaModel model, KvCache cache, ReadOnlySpan<int> tokens, int start, int steps)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(cache);
        if (cache.Length != start || start + steps > tokens.Length)
            throw new ArgumentException($"The cache must hold exactly positions [0, {start}) and the tokens must reach {start + steps}.", nameof(cache));
        var session = new LlamaSession(model, cache);
        var distributions = new float[steps][];
        for (int k = 0; k < steps; k++)
            distributions[k] = Softmax(session.Forward(tokens[start + k], start + k));
        return distributions;
    }

    /// <summary>Mean over positions of KL(<paramref name="exact"/> ‖ <paramref name="other"/>), in nats.</summary>
    public static double MeanKl(float[][] exact, float[][] other)
    {
        ArgumentNullException.ThrowIfNull(exact);
        ArgumentNullException.ThrowIfNull(other);
        if (exact.Length != other.Length || exact.Length == 0)
            throw new ArgumentException("Both sides need the same, non-zero number of distributions.", nameof(other));
        double total = 0;
        for (int k = 0; k < exact.Length; k++)
        {
            float[] p = exact[k];
            float[] q = other[k];
            double kl = 0;
            for (int i = 0; i < p.Length; i++)
            {
                if (p[i] > 0)
                    kl += p[i] * (Math.Log(p[i]) - Math.Log(Math.Max(q[i], 1e-30)));
            }

            total += Math.Max(0, kl);
        }

        return total / exact.Length;
    }

    /// <summary>
    /// Whether greedy decoding from <paramref name="cache"/> (positions <c>[0, start)</c>), starting by feeding
    /// <paramref name="tokens"/><c>[start]</c>, reproduces <paramref name="tokens"/><c>[start + 1 … start + steps]</c>.
    /// </summary>
    public static bool GreedyMatches(LlamaModel model, KvCache cache, ReadOnlySpan<int> tokens, int start, int steps)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(cache);
        if (cache.Length != start || start + steps >= tokens.Length)
            throw new ArgumentException($"The cache must hold exactly positions [0, {start}) and the tokens must reach {start + steps}.", nameof(cache));
        var session = new LlamaSession(model, cache);
        int token = tokens[start];
        for (int k = 0; k < steps; k++)
        {
            int next = GreedySampler.Argmax(session.Forward(token, start + k));
            if (next != tokens[start + k + 1])
                return false;
            token = next;
        }

        return true;
    }

    /// <summary>Softmax of logits, computed in binary32 after subtracting the maximum and summed in binary64.</summary>
    public static float[] Softmax(ReadOnlySpan<float> logits)
    {
        var p = new float[logits.Length];
        float max = float.MinValue;
        foreach (float l in logits)
            max = MathF.Max(max, l);
        double sum = 0;
        for (int i = 0; i < p.Length; i++)
        {
            p[i] = MathF.Exp(logits[i] - max);
            sum += p[i];
        }

        for (int i = 0; i < p.Length; i++)
            p[i] = (float)(p[i] / sum);
        return p;
    }
}
