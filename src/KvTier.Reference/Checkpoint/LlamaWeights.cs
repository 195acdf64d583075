namespace KvTier.Reference;

/// <summary>
/// The float32 tensors of a llama2.c checkpoint, each row-major and stacked over layers in the file's order.
/// Shapes use <c>L</c> = layers, <c>D</c> = dim, <c>H</c> = hidden dim, <c>K</c> = KV dim, <c>V</c> = vocabulary.
/// </summary>
/// <remarks>
/// The arrays are exposed for speed and are shared, not copied: treat them as read-only. Once loaded the
/// weights are never written, so any number of sessions may read them concurrently.
/// </remarks>
public sealed class LlamaWeights
{
    internal LlamaWeights(
        float[] tokenEmbedding, float[] rmsAttention, float[] wq, float[] wk, float[] wv, float[] wo,
        float[] rmsFeedForward, float[] w1, float[] w2, float[] w3, float[] rmsFinal, float[] classifier)
    {
        TokenEmbedding = tokenEmbedding;
        RmsAttention = rmsAttention;
        Wq = wq;
        Wk = wk;
        Wv = wv;
        Wo = wo;
        RmsFeedForward = rmsFeedForward;
        W1 = w1;
        W2 = w2;
        W3 = w3;
        RmsFinal = rmsFinal;
        Classifier = classifier;
    }

    /// <summary>Token embedding, <c>[V][D]</c>.</summary>
    public float[] TokenEmbedding { get; }

    /// <summary>RMSNorm weights before attention, <c>[L][D]</c>.</summary>
    public float[] RmsAttention { get; }

    /// <summary>Query projection, <c>[L][D][D]</c> (output row, input column).</summary>
    public float[] Wq { get; }

    /// <summary>Key projection, <c>[L][K][D]</c>.</summary>
    public float[] Wk { get; }

    /// <summary>Value projection, <c>[L][K][D]</c>.</summary>
    public float[] Wv { get; }

    /// <summary>Attention output projection, <c>[L][D][D]</c>.</summary>
    public float[] Wo { get; }

    /// <summary>RMSNorm weights before the feed-forward block, <c>[L][D]</c>.</summary>
    public float[] RmsFeedForward { get; }

    /// <summary>Feed-forward gate projection, <c>[L][H][D]</c>.</summary>
    public float[] W1 { get; }

    /// <summary>Feed-forward down projection, <c>[L][D][H]</c>.</summary>
    public float[] W2 { get; }

    /// <summary>Feed-forward up projection, <c>[L][H][D]</c>.</summary>
    public float[] W3 { get; }

    /// <summary>Final RMSNorm weights, <c>[D]</c>.</summary>
    public float[] RmsFinal { get; }

    /// <summary>Output classifier, <c>[V][D]</c>; the same array as <see cref="TokenEmbedding"/> when the classifier is shared.</summary>
    public float[] Classifier { get; }
}
