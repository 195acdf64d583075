using KvTier.Reference;

namespace KvTier.Fuzz;

/// <summary>
/// Fuzzes <see cref="LlamaCheckpoint.Parse"/> and, when a checkpoint is accepted, checks its tensor sizes and runs
/// a few positions of the forward pass over it, so that a header the reader let through but the model cannot run shows up.
/// </summary>
internal static class CheckpointTarget
{
    public static readonly FuzzTarget Target = new(Run, Seeds);

    private static void Run(byte[] input)
    {
        LlamaCheckpoint checkpoint;
        try
        {
            checkpoint = LlamaCheckpoint.Parse(input, "fuzz-input");
        }
        catch (KvTierFormatException)
        {
            return; // the expected outcome for bad input
        }

        LlamaConfig c = checkpoint.Config;
        if (LlamaCheckpoint.ExpectedFileSize(c) != input.Length)
            throw new InvalidOperationException($"Accepted a {input.Length}-byte file whose header implies {LlamaCheckpoint.ExpectedFileSize(c)} bytes.");
        LlamaWeights w = checkpoint.Weights;
        long l = c.Layers, d = c.Dim, h = c.HiddenDim, k = c.KvDim, v = c.VocabSize;
        ExpectLength("token_embedding", w.TokenEmbedding, v * d);
        ExpectLength("rms_att", w.RmsAttention, l * d);
        ExpectLength("wq", w.Wq, l * d * d);
        ExpectLength("wk", w.Wk, l * k * d);
        ExpectLength("wv", w.Wv, l * k * d);
        ExpectLength("wo", w.Wo, l * d * d);
        ExpectLength("rms_ffn", w.RmsFeedForward, l * d);
        ExpectLength("w1", w.W1, l * h * d);
        ExpectLength("w2", w.W2, l * d * h);
        ExpectLength("w3", w.W3, l * h * d);
        ExpectLength("rms_final", w.RmsFinal, d);
        ExpectLength("wcls", w.Classifier, v * d);
        if (ReferenceEquals(w.Classifier, w.TokenEmbedding) != c.SharedClassifier)
            throw new InvalidOperationException($"Shared classifier is {c.SharedClassifier} but the classifier array is {(c.SharedClassifier ? "separate" : "the embedding")}.");

        // Run it: the forward pass costs about one multiply-add per weight, and the file holds every weight.
        // A fresh tokenizer each time (no cache), so that every run of an input covers the same code, which AFL needs.
        var tokenizer = Tokenizer.Parse(SyntheticLlamaFiles.NumberedTokenizer(c.VocabSize), c.VocabSize, "numbered tokenizer");
        var session = new LlamaModel(checkpoint, tokenizer, "fuzz").CreateSession();
        ReadOnlySpan<int> prompt = [c.VocabSize - 1, 0, c.VocabSize / 2];
        prompt = prompt[..Math.Min(prompt.Length, c.SeqLen)];
        int logits = session.Prefill(prompt).Length;
        if (logits != c.VocabSize || session.Cache.Length != prompt.Length)
            throw new InvalidOperationException($"Prefill of {prompt.Length} tokens gave {logits} logits for {c.VocabSize} tokens and a cache of {session.Cache.Length}.");
    }

    private static void ExpectLength(string tensor, float[] array, long elements)
    {
        if (array.Length != elements)
            throw new InvalidOperationException($"Tensor {tensor} has {array.Length} elements; the header implies {elements}.");
    }

    private static IEnumerable<(string, byte[])> Seeds()
    {
        // dim, hidden_dim, n_layers, n_heads, n_kv_heads, vocab_size, seq_len, shared classifier: all well under 4 KB.
        yield return ("shared-mha.bin", SyntheticLlamaFiles.Checkpoint(new LlamaConfig(4, 8, 1, 2, 2, 6, 4, sharedClassifier: true), seed: 1));
        yield return ("unshared-gqa.bin", SyntheticLlamaFiles.Checkpoint(new LlamaConfig(8, 4, 2, 2, 1, 5, 3, sharedClassifier: false), seed: 2));
        yield return ("minimal.bin", SyntheticLlamaFiles.Checkpoint(new LlamaConfig(2, 1, 1, 1, 1, LlamaConfig.MinVocabSize, 1, sharedClassifier: true), seed: 3));
    }
}
