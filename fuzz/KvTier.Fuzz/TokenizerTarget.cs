using System.Buffers.Binary;
using System.Text;
using System.Text.Unicode;
using KvTier.Reference;

namespace KvTier.Fuzz;

/// <summary>
/// Fuzzes <see cref="Tokenizer.Parse"/> and, when a vocabulary is accepted, reads every token back and encodes and
/// decodes a few texts with it. The vocabulary size is not in a tokenizer file (it comes from the checkpoint), so
/// the input is a uint16 little-endian vocabulary size, 1 to 65535, followed by the file; size 0 is skipped.
/// </summary>
internal static class TokenizerTarget
{
    public static readonly FuzzTarget Target = new(Run, Seeds);

    /// <summary>Bytes in front of the tokenizer file: the vocabulary size.</summary>
    public const int PrefixLength = sizeof(ushort);

    // Longest text built from the vocabulary's own pieces: encoding merges pairs in quadratic time.
    private const int MaxVocabularyTextBytes = 64;

    private static readonly string[] Texts =
    [
        "", " ", "Once upon a time, there was a little girl named Lily.", "h\u00e9llo w\u00f6rld \U0001F600 \u4e2d\u6587",
        "a\0b<0x41>\n\t  end", "lone \ud800 surrogate",
    ];

    private static void Run(byte[] input)
    {
        if (input.Length < PrefixLength)
            return;
        int vocabSize = BinaryPrimitives.ReadUInt16LittleEndian(input);
        if (vocabSize < LlamaConfig.MinVocabSize)
            return; // Parse rejects it as misuse (ArgumentOutOfRangeException), not as a bad file

        Tokenizer tokenizer;
        try
        {
            tokenizer = Tokenizer.Parse(input.AsSpan(PrefixLength), vocabSize, "fuzz-input");
        }
        catch (KvTierFormatException)
        {
            return; // the expected outcome for bad input
        }

        if (tokenizer.VocabSize != vocabSize)
            throw new InvalidOperationException($"Asked for {vocabSize} tokens, got {tokenizer.VocabSize}.");
        var pieces = new HashSet<string>(vocabSize, StringComparer.Ordinal);
        var vocabularyText = new List<byte>(MaxVocabularyTextBytes);
        for (int id = 0; id < vocabSize; id++)
        {
            byte[] piece = tokenizer.GetPieceBytes(id);
            if (piece.Length < 1 || piece.Length > tokenizer.MaxTokenLength)
                throw new InvalidOperationException($"Token {id} has {piece.Length} bytes; max_token_length is {tokenizer.MaxTokenLength}.");
            pieces.Add(Encoding.Latin1.GetString(piece));
            _ = tokenizer.GetScore(id);
            _ = tokenizer.DecodePieceBytes(Tokenizer.Bos, id);
            _ = tokenizer.DecodePiece(id - 1, id);
            if (vocabularyText.Count + piece.Length <= MaxVocabularyTextBytes && Utf8.IsValid(piece))
                vocabularyText.AddRange(piece);
        }

        foreach (string text in Texts)
            EncodeAndDecode(tokenizer, pieces, text);
        EncodeAndDecode(tokenizer, pieces, Encoding.UTF8.GetString(vocabularyText.ToArray()));
    }

    private static void EncodeAndDecode(Tokenizer tokenizer, HashSet<string> pieces, string text)
    {
        if (NeedsMissingByteFallback(tokenizer.VocabSize, pieces, Encoding.UTF8.GetBytes(text)))
            return; // Encode documents an InvalidOperationException for this

        ReadOnlySpan<(bool Bos, bool Eos)> variants = [(true, true), (false, false)];
        foreach ((bool bos, bool eos) in variants)
        {
            int[] tokens = tokenizer.Encode(text, bos, eos);
            foreach (int token in tokens)
            {
                if ((uint)token >= (uint)tokenizer.VocabSize)
                    throw new InvalidOperationException(
                        $"Encode(\"{text}\", bos: {bos}, eos: {eos}) returned token {token} of a {tokenizer.VocabSize}-token vocabulary: [{string.Join(", ", tokens)}].");
            }

            _ = tokenizer.Decode(tokens);
        }
    }

    /// <summary>
    /// Whether encoding <paramref name="utf8"/> needs a byte-fallback token (byte + 3) that the vocabulary lacks, which
    /// Encode documents as an InvalidOperationException. As Encode does: the dummy prefix is the token " "; the text
    /// is looked up a code point at a time (a byte and at most three continuation bytes after it), and a code point
    /// that is not a token falls back to one token per byte.
    /// </summary>
    private static bool NeedsMissingByteFallback(int vocabSize, HashSet<string> pieces, byte[] utf8)
    {
        const int byteFallbackOffset = 3;
        if (utf8.Length > 0 && !pieces.Contains(" ") && ' ' + byteFallbackOffset >= vocabSize)
            return true;
        for (int start = 0; start < utf8.Length;)
        {
            int end = start + 1;
            while (end < utf8.Length && (utf8[end] & 0xC0) == 0x80 && end - start < 4)
                end++;
            if (!pieces.Contains(Encoding.Latin1.GetString(utf8, start, end - start)))
            {
                for (int i = start; i < end; i++)
                {
                    if (utf8[i] + byteFallbackOffset >= vocabSize)
                        return true;
                }
            }

            start = end;
        }

        return false;
    }

    private static IEnumerable<(string, byte[])> Seeds()
    {
        // Special tokens, a space and two letters with their merges: " ab" is reached through "ab", the best merge.
        yield return ("tiny-merges.bin", WithVocabSize(SyntheticLlamaFiles.Tokenizer(
        [
            ("<unk>"u8.ToArray(), 0f), ("\n<s>\n"u8.ToArray(), 0f), ("\n</s>\n"u8.ToArray(), 0f),
            (" "u8.ToArray(), -1f), ("a"u8.ToArray(), -2f), ("b"u8.ToArray(), -3f), ("ab"u8.ToArray(), -4f), (" ab"u8.ToArray(), -5f),
        ])));

        // Byte fallback for every byte plus merges that spell part of "Once upon a time" and a whole-code-point token.
        string[] merges = [" O", "nc", "nce", " Once", " u", "po", "pon", " upon", " a", "ti", "me", "time", " time", "\u00e9", "\U0001F600"];
        yield return ("bytes-merges.bin", WithVocabSize(SyntheticLlamaFiles.Tokenizer(
            SyntheticLlamaFiles.SpecialAndByteTokens().Concat(merges.Select((m, i) => (Encoding.UTF8.GetBytes(m), 10f - i))))));

        // Duplicate pieces, NaN and infinite scores, max_token_length above the longest piece.
        yield return ("duplicates-odd-scores.bin", WithVocabSize(SyntheticLlamaFiles.Tokenizer(
        [
            ("<unk>"u8.ToArray(), 0f), ("<s>"u8.ToArray(), 0f), ("</s>"u8.ToArray(), 0f),
            ("x"u8.ToArray(), float.NaN), ("x"u8.ToArray(), 1f), ("xx"u8.ToArray(), float.PositiveInfinity), (" "u8.ToArray(), float.NegativeInfinity),
        ], maxTokenLength: 16)));
    }

    /// <summary>Prefixes a tokenizer file with its vocabulary size, counted from the file, as <see cref="Run"/> expects.</summary>
    private static byte[] WithVocabSize(byte[] file)
    {
        int count = 0;
        for (int offset = sizeof(int); offset < file.Length; count++)
            offset += 2 * sizeof(int) + BinaryPrimitives.ReadInt32LittleEndian(file.AsSpan(offset + sizeof(int)));
        var input = new byte[PrefixLength + file.Length];
        BinaryPrimitives.WriteUInt16LittleEndian(input, checked((ushort)count));
        file.CopyTo(input, PrefixLength);
        return input;
    }
}
