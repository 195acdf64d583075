using KvTier.Layout;

namespace KvTier.Reference;

/// <summary>
/// The hyperparameters of a llama2.c checkpoint (its 7-int32 header, with the sign of the vocabulary size
/// turned into <see cref="SharedClassifier"/>).
/// </summary>
/// <remarks>Immutable; safe to share between threads.</remarks>
public sealed record LlamaConfig
{
    /// <summary>Largest model width accepted.</summary>
    public const int MaxDim = 65536;

    /// <summary>Largest feed-forward width, vocabulary size and context length accepted.</summary>
    public const int MaxHiddenDim = 1 << 20;

    /// <summary>Smallest vocabulary accepted: token ids 0 (unknown), 1 (BOS) and 2 (EOS) must exist.</summary>
    public const int MinVocabSize = 3;

    /// <summary>Largest vocabulary accepted.</summary>
    public const int MaxVocabSize = 1 << 20;

    /// <summary>Largest context length accepted.</summary>
    public const int MaxSeqLen = 1 << 20;

    /// <summary>Largest number of layers accepted (the KV layout's limit).</summary>
    public const int MaxLayers = KvLayout.MaxLayers;

    /// <summary>Creates and validates a configuration.</summary>
    /// <param name="dim">Model width (residual stream), 1 to <see cref="MaxDim"/>.</param>
    /// <param name="hiddenDim">Feed-forward width, 1 to <see cref="MaxHiddenDim"/>.</param>
    /// <param name="layers">Transformer layers, 1 to <see cref="MaxLayers"/>.</param>
    /// <param name="heads">Query heads; must divide <paramref name="dim"/> into an even head size of at most <see cref="KvLayout.MaxHeadDim"/>.</param>
    /// <param name="kvHeads">Key/value heads; must divide <paramref name="heads"/>, at most <see cref="KvLayout.MaxKvHeads"/>.</param>
    /// <param name="vocabSize">Vocabulary size, <see cref="MinVocabSize"/> to <see cref="MaxVocabSize"/>.</param>
    /// <param name="seqLen">Context length (KV cache capacity), 1 to <see cref="MaxSeqLen"/>.</param>
    /// <param name="sharedClassifier">True when the output classifier reuses the token embedding.</param>
    /// <exception cref="ArgumentException">A value is outside its range or the values do not fit together.</exception>
    public LlamaConfig(int dim, int hiddenDim, int layers, int heads, int kvHeads, int vocabSize, int seqLen, bool sharedClassifier)
    {
        if (Check(dim, hiddenDim, layers, heads, kvHeads, vocabSize, seqLen, out _) is { } problem)
            throw new ArgumentException(problem);
        Dim = dim;
        HiddenDim = hiddenDim;
        Layers = layers;
        Heads = heads;
        KvHeads = kvHeads;
        VocabSize = vocabSize;
        SeqLen = seqLen;
        SharedClassifier = sharedClassifier;
    }

    /// <summary>Model width (residual stream).</summary>
    public int Dim { get; }

    /// <summary>Feed-forward width.</summary>
    public int HiddenDim { get; }

    /// <summary>Transformer layers.</summary>
    public int Layers { get; }

    /// <summary>Query heads.</summary>
    public int Heads { get; }

    /// <summary>Key/value heads (fewer than <see cref="Heads"/> under grouped-query attention).</summary>
    public int KvHeads { get; }

    /// <summary>Vocabulary size.</summary>
    public int VocabSize { get; }

    /// <summary>Context length: the most positions a sequence may have.</summary>
    public int SeqLen { get; }

    /// <summary>True when the classifier is the token embedding; false when the checkpoint stores its own (negative vocabulary size in the header).</summary>
    public bool SharedClassifier { get; }

    /// <summary>Channels per head: <see cref="Dim"/> / <see cref="Heads"/>.</summary>
    public int HeadSize => Dim / Heads;

    /// <summary>Width of one token's K (or V) in one layer: <see cref="KvHeads"/> × <see cref="HeadSize"/>.</summary>
    public int KvDim => KvHeads * HeadSize;

    /// <summary>Query heads that share one KV head.</summary>
    public int QueryHeadsPerKvHead => Heads / KvHeads;

    /// <summary>
    /// Returns a description of the first problem with the values, or null when they are valid; <paramref name="field"/>
    /// is the header field index (0 = dim … 6 = seq_len) the problem is reported against.
    /// </summary>
    internal static string? Check(int dim, int hiddenDim, int layers, int heads, int kvHeads, int vocabSize, int seqLen, out int field)
    {
        field = 0;
        if (dim is < 1 or > MaxDim)
            return $"dim {dim} is outside [1, {MaxDim}]";
        field = 1;
        if (hiddenDim is < 1 or > MaxHiddenDim)
            return $"hidden_dim {hiddenDim} is outside [1, {MaxHiddenDim}]";
        field = 2;
        if (layers is < 1 or > MaxLayers)
            return $"n_layers {layers} is outside [1, {MaxLayers}]";
        field = 3;
        if (heads < 1 || heads > dim || dim % heads != 0)
            return $"n_heads {heads} does not divide dim {dim}";
        int headSize = dim / heads;
        if (headSize % 2 != 0)
            return $"head size {headSize} (dim {dim} / n_heads {heads}) is odd; RoPE rotates pairs";
        if (headSize > KvLayout.MaxHeadDim)
            return $"head size {headSize} exceeds {KvLayout.MaxHeadDim}";
        field = 4;
        if (kvHeads < 1 || kvHeads > heads || heads % kvHeads != 0)
            return $"n_kv_heads {kvHeads} does not divide n_heads {heads}";
        if (kvHeads > KvLayout.MaxKvHeads)
            return $"n_kv_heads {kvHeads} exceeds {KvLayout.MaxKvHeads}";
        field = 5;
        // BOS (1) and EOS (2) are part of every llama2.c vocabulary: fewer than 3 tokens cannot encode a prompt.
        if (vocabSize is < MinVocabSize or > MaxVocabSize)
            return $"vocab_size {vocabSize} is outside [{MinVocabSize}, {MaxVocabSize}]";
        field = 6;
        if (seqLen is < 1 or > MaxSeqLen)
            return $"seq_len {seqLen} is outside [1, {MaxSeqLen}]";
        field = -1;
        return null;
    }
}
