using System.Buffers.Binary;
using System.Text;
using KvTier.Reference;

namespace KvTier.Fuzz;

/// <summary>
/// Builds small llama2.c checkpoints and tokenizers for seeds and for running accepted checkpoints; the fuzz
/// project cannot reference tests/KvTier.Testing, so this repeats the little of its <c>SyntheticCheckpoint</c> it needs.
/// </summary>
internal static class SyntheticLlamaFiles
{
    /// <summary>A checkpoint for <paramref name="config"/> with small weights drawn from <paramref name="seed"/>.</summary>
    public static byte[] Checkpoint(LlamaConfig config, int seed)
    {
        var bytes = new byte[LlamaCheckpoint.ExpectedFileSize(config)];
        ReadOnlySpan<int> header =
        [
            config.Dim, config.HiddenDim, config.Layers, config.Heads, config.KvHeads,
            config.SharedClassifier ? config.VocabSize : -config.VocabSize, config.SeqLen,
        ];
        for (int i = 0; i < header.Length; i++)
            BinaryPrimitives.WriteInt32LittleEndian(bytes.AsSpan(i * sizeof(int)), header[i]);
        var random = new Random(seed);
        for (int offset = LlamaCheckpoint.HeaderSize; offset < bytes.Length; offset += sizeof(float))
            BinaryPrimitives.WriteSingleLittleEndian(bytes.AsSpan(offset), (float)(random.NextDouble() - 0.5));
        return bytes;
    }

    /// <summary>A tokenizer file: <c>max_token_length</c> (the longest piece unless given), then score, length and bytes per token.</summary>
    public static byte[] Tokenizer(IEnumerable<(byte[] Piece, float Score)> tokens, int? maxTokenLength = null)
    {
        using var stream = new MemoryStream();
        using var writer = new BinaryWriter(stream);
        writer.Write(0); // max_token_length, patched below
        int longest = 0;
        foreach ((byte[] piece, float score) in tokens)
        {
            writer.Write(score);
            writer.Write(piece.Length);
            writer.Write(piece);
            longest = Math.Max(longest, piece.Length);
        }

        writer.Flush();
        byte[] bytes = stream.ToArray();
        BinaryPrimitives.WriteInt32LittleEndian(bytes, maxTokenLength ?? longest);
        return bytes;
    }

    /// <summary>&lt;unk&gt;, &lt;s&gt;, &lt;/s&gt; and the 256 raw-byte tokens <c>&lt;0xAB&gt;</c> of a byte-fallback vocabulary.</summary>
    public static IEnumerable<(byte[] Piece, float Score)> SpecialAndByteTokens()
    {
        yield return ("<unk>"u8.ToArray(), 0f);
        yield return ("\n<s>\n"u8.ToArray(), 0f);
        yield return ("\n</s>\n"u8.ToArray(), 0f);
        for (int b = 0; b < 256; b++)
            yield return (Encoding.ASCII.GetBytes($"<0x{b:X2}>"), 0f);
    }

    /// <summary>A tokenizer of <paramref name="vocabSize"/> distinct tokens "t0", "t1", … that never merge.</summary>
    public static byte[] NumberedTokenizer(int vocabSize)
    {
        var tokens = new (byte[], float)[vocabSize];
        for (int id = 0; id < vocabSize; id++)
            tokens[id] = (Encoding.ASCII.GetBytes($"t{id}"), 0f);
        return Tokenizer(tokens);
    }
}
