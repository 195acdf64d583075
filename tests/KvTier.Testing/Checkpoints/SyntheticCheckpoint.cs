using System.Buffers.Binary;
using KvTier.Reference;

namespace KvTier.Testing;

/// <summary>
/// Writes small llama2.c checkpoints and tokenizers with random weights, for shapes the real model does not have
/// (unshared classifier, other head counts) and for corrupting files without touching the real ones.
/// </summary>
public static class SyntheticCheckpoint
{
    /// <summary>The bytes of a checkpoint for <paramref name="config"/> with weights drawn from <paramref name="seed"/>.</summary>
    public static byte[] Build(LlamaConfig config, int seed)
    {
        long size = LlamaCheckpoint.ExpectedFileSize(config);
        var bytes = new byte[size];
        Span<int> header =
        [
            config.Dim, config.HiddenDim, config.Layers, config.Heads, config.KvHeads,
            config.SharedClassifier ? config.VocabSize : -config.VocabSize, config.SeqLen,
        ];
        for (int i = 0; i < header.Length; i++)
            BinaryPrimitives.WriteInt32LittleEndian(bytes.AsSpan(i * 4), header[i]);
        var random = new Random(seed);
        for (int offset = LlamaCheckpoint.HeaderSize; offset < bytes.Length; offset += 4)
            BinaryPrimitives.WriteSingleLittleEndian(bytes.AsSpan(offset), (float)(random.NextDouble() - 0.5) * 0.5f);
        return bytes;
    }

    /// <summary>The bytes of a tokenizer file with the given pieces and scores.</summary>
    public static byte[] BuildTokenizer(IReadOnlyList<(byte[] Piece, float Score)> tokens, int? maxTokenLength = null)
    {
        using var stream = new MemoryStream();
        using var writer = new BinaryWriter(stream);
        writer.Write(maxTokenLength ?? tokens.Max(t => t.Piece.Length));
        foreach ((byte[] piece, float score) in tokens)
        {
            writer.Write(score);
            writer.Write(piece.Length);
            writer.Write(piece);
        }

        writer.Flush();
        return stream.ToArray();
    }

    /// <summary>
    /// A byte-level tokenizer for a synthetic model of <paramref name="vocabSize"/> ≥ 259 tokens: &lt;unk&gt;, &lt;s&gt;,
    /// &lt;/s&gt;, the 256 raw-byte tokens, then filler tokens "t259", "t260", ….
    /// </summary>
    public static byte[] BuildByteTokenizer(int vocabSize)
    {
        var tokens = new List<(byte[], float)>
        {
            ("<unk>"u8.ToArray(), 0f), ("\n<s>\n"u8.ToArray(), 0f), ("\n</s>\n"u8.ToArray(), 0f),
        };
        for (int b = 0; b < 256; b++)
            tokens.Add((System.Text.Encoding.ASCII.GetBytes($"<0x{b:X2}>"), 0f));
        for (int id = tokens.Count; id < vocabSize; id++)
            tokens.Add((System.Text.Encoding.ASCII.GetBytes($"t{id}"), -id));
        return BuildTokenizer(tokens);
    }
}
