using System.Buffers.Binary;
using System.Text;

namespace KvTier.Reference;

/// <summary>
/// The byte-pair tokenizer of llama2.c (<c>tokenizer.bin</c> / <c>tok512.bin</c>), encoding and decoding exactly as
/// <c>run.c</c>'s <c>encode</c> and <c>decode</c> do.
/// </summary>
/// <remarks>
/// File layout (all little-endian):
/// <code>
/// offset  size          field
/// 0       4  int32      max_token_length
/// then, for each of vocab_size tokens:
///         4  float32    score (merge priority: higher merges first)
///         4  int32      length n of the token, 1..max_token_length
///         n  bytes      the token's bytes (not NUL-terminated)
/// </code>
/// The vocabulary size is not in the file; it comes from the checkpoint header. An instance is immutable and may
/// be used from any number of threads at once.
/// </remarks>
public sealed class Tokenizer
{
    /// <summary>The beginning-of-sequence token id.</summary>
    public const int Bos = 1;

    /// <summary>The end-of-sequence token id.</summary>
    public const int Eos = 2;

    /// <summary>Largest <c>max_token_length</c> (and so largest token) the reader accepts, in bytes.</summary>
    public const int MaxTokenBytes = 1 << 16;

    /// <summary>Largest vocabulary the reader accepts.</summary>
    public const int MaxVocabSize = LlamaConfig.MaxVocabSize;

    /// <summary>Byte-fallback tokens start after &lt;unk&gt;, &lt;s&gt; and &lt;/s&gt;: byte b is token b + 3.</summary>
    private const int ByteFallbackOffset = 3;

    private readonly byte[][] _pieces;
    private readonly float[] _scores;

    // Token strings mapped one byte to one char (Latin-1), so that arbitrary bytes compare exactly as strcmp would
    // compare them in llama2.c while still using the ordinary string dictionary.
    private readonly Dictionary<string, int> _ids;
    private readonly Dictionary<string, int>.AlternateLookup<ReadOnlySpan<char>> _idLookup;
    private readonly byte[][] _rawBytePieces;
    private readonly int _longestPiece;

    private Tokenizer(byte[][] pieces, float[] scores, int maxTokenLength)
    {
        _pieces = pieces;
        _scores = scores;
        MaxTokenLength = maxTokenLength;
        _ids = new Dictionary<string, int>(pieces.Length, StringComparer.Ordinal);
        int longest = 0;
        for (int id = 0; id < pieces.Length; id++)
        {
            // A vocabulary may list the same string twice. llama2.c finds strings with bsearch over a qsort-ed
            // copy, which returns an unspecified one of the duplicates; we define it as the lowest id.
            _ids.TryAdd(Encoding.Latin1.GetString(pieces[id]), id);
            longest = Math.Max(longest, pieces[id].Length);
        }

        _idLookup = _ids.GetAlternateLookup<ReadOnlySpan<char>>();
        _longestPiece = longest;
        _rawBytePieces = new byte[256][];
        for (int b = 0; b < 256; b++)
            _rawBytePieces[b] = [(byte)b];
    }

    /// <summary>Number of tokens.</summary>
    public int VocabSize => _pieces.Length;

    /// <summary>The file's <c>max_token_length</c>: no token is longer than this many bytes.</summary>
    public int MaxTokenLength { get; }

    /// <summary>Reads a tokenizer file.</summary>
    /// <param name="path">Path of the file.</param>
    /// <param name="vocabSize">Number of tokens (the checkpoint's vocabulary size), <see cref="LlamaConfig.MinVocabSize"/> to <see cref="MaxVocabSize"/>.</param>
    /// <returns>The tokenizer.</returns>
    /// <exception cref="InvalidModelFileException">The file is not a valid llama2.c tokenizer for that many tokens.</exception>
    /// <exception cref="IOException">The file cannot be opened or read.</exception>
    public static Tokenizer Load(string path, int vocabSize)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        CheckVocabSize(vocabSize);
        using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 16, FileOptions.SequentialScan);
        long largest = Math.Min(Array.MaxLength, sizeof(int) + vocabSize * (2L * sizeof(int) + MaxTokenBytes));
        if (stream.Length > largest)
            throw new InvalidModelFileException(
                $"file is {stream.Length} bytes, more than a tokenizer of {vocabSize} tokens can be", path, largest);
        byte[] bytes = new byte[stream.Length];
        stream.ReadExactly(bytes);
        return Parse(bytes, vocabSize, path);
    }

    /// <summary>Parses a tokenizer held in memory.</summary>
    /// <param name="bytes">The whole file.</param>
    /// <param name="vocabSize">Number of tokens (the checkpoint's vocabulary size), <see cref="LlamaConfig.MinVocabSize"/> to <see cref="MaxVocabSize"/>.</param>
    /// <param name="sourceName">Name to report in errors (a path); null when unknown.</param>
    /// <returns>The tokenizer.</returns>
    /// <exception cref="InvalidModelFileException">The bytes are not a valid llama2.c tokenizer for that many tokens.</exception>
    public static Tokenizer Parse(ReadOnlySpan<byte> bytes, int vocabSize, string? sourceName = null)
    {
        CheckVocabSize(vocabSize);
        if (bytes.Length < sizeof(int))
            throw new InvalidModelFileException(
                $"file is {bytes.Length} bytes, shorter than the 4-byte max_token_length field", sourceName, bytes.Length);
        int maxTokenLength = BinaryPrimitives.ReadInt32LittleEndian(bytes);
        if (maxTokenLength is < 1 or > MaxTokenBytes)
            throw new InvalidModelFileException(
                $"max_token_length {maxTokenLength} is outside [1, {MaxTokenBytes}]", sourceName, 0);

        // Every token takes at least 9 bytes (score, length, one byte): reject short files before allocating per token.
        long minimum = sizeof(int) + vocabSize * 9L;
        if (bytes.Length < minimum)
            throw new InvalidModelFileException(
                $"file is {bytes.Length} bytes, too short for {vocabSize} tokens (at least {minimum} bytes)", sourceName, bytes.Length);

        var pieces = new byte[vocabSize][];
        var scores = new float[vocabSize];
        int offset = sizeof(int);
        for (int id = 0; id < vocabSize; id++)
        {
            if (bytes.Length - offset < 2 * sizeof(int))
                throw new InvalidModelFileException($"file ends inside the header of token {id}", sourceName, offset);
            scores[id] = BinaryPrimitives.ReadSingleLittleEndian(bytes[offset..]);
            int length = BinaryPrimitives.ReadInt32LittleEndian(bytes[(offset + sizeof(int))..]);
            // llama2.c's fread of 0 bytes fails, and its merge buffer holds two tokens of max_token_length each.
            if (length < 1 || length > maxTokenLength)
                throw new InvalidModelFileException(
                    $"token {id} has length {length}, outside [1, max_token_length {maxTokenLength}]", sourceName, offset + sizeof(int));
            offset += 2 * sizeof(int);
            if (bytes.Length - offset < length)
                throw new InvalidModelFileException(
                    $"file ends inside token {id} ({length} bytes declared, {bytes.Length - offset} left)", sourceName, offset);
            pieces[id] = bytes.Slice(offset, length).ToArray();
            offset += length;
        }

        if (offset != bytes.Length)
            throw new InvalidModelFileException(
                $"{bytes.Length - offset} unexpected bytes after the last of {vocabSize} tokens", sourceName, offset);
        return new Tokenizer(pieces, scores, maxTokenLength);
    }

    /// <summary>The bytes of token <paramref name="token"/> as stored in the vocabulary.</summary>
    /// <param name="token">A token id.</param>
    /// <returns>A copy of the token's bytes.</returns>
    public byte[] GetPieceBytes(int token)
    {
        CheckToken(token);
        return (byte[])_pieces[token].Clone();
    }

    /// <summary>The merge score of token <paramref name="token"/>.</summary>
    /// <param name="token">A token id.</param>
    /// <returns>The score from the file.</returns>
    public float GetScore(int token)
    {
        CheckToken(token);
        return _scores[token];
    }

    /// <summary>
    /// Encodes text as llama2.c's <c>encode</c> does: optional BOS; for non-empty text a dummy-prefix token
    /// (the token for <c>" "</c>); each UTF-8 code point looked up whole, falling back to one token per byte
    /// (byte + 3); then repeatedly merges the adjacent pair whose concatenation is the best-scoring token
    /// (the leftmost pair on ties) until no pair merges; optional EOS.
    /// </summary>
    /// <param name="text">The text. Lone surrogates become U+FFFD. A NUL character, which llama2.c's C strings cannot
    /// carry, is encoded through byte fallback like any other byte.</param>
    /// <param name="bos">Prepend <see cref="Bos"/>.</param>
    /// <param name="eos">Append <see cref="Eos"/>.</param>
    /// <returns>The token ids.</returns>
    /// <exception cref="InvalidOperationException">A byte needs a byte-fallback token that this vocabulary lacks.</exception>
    public int[] Encode(string text, bool bos = true, bool eos = false)
    {
        ArgumentNullException.ThrowIfNull(text);
        byte[] utf8 = Encoding.UTF8.GetBytes(text);
        var tokens = new int[utf8.Length + 3];
        int count = 0;
        if (bos)
            tokens[count++] = Bos;

        // add_dummy_prefix: llama2.c looks up " " and inserts that token (not a space in the text) when the text is non-empty.
        if (utf8.Length > 0)
            tokens[count++] = LookUp(" ") is int space and >= 0 ? space : ByteFallback((byte)' ');

        Span<char> codePoint = stackalloc char[4];
        int codePointLength = 0;
        for (int i = 0; i < utf8.Length; i++)
        {
            // A byte that is not a continuation (10xxxxxx) starts a new code point.
            if ((utf8[i] & 0xC0) != 0x80)
                codePointLength = 0;
            codePoint[codePointLength++] = (char)utf8[i];

            // Keep appending continuation bytes, but never more than 4 bytes in all (as llama2.c's buffer guard does).
            if (i + 1 < utf8.Length && (utf8[i + 1] & 0xC0) == 0x80 && codePointLength < 4)
                continue;

            int id = LookUp(codePoint[..codePointLength]);
            if (id >= 0)
            {
                tokens[count++] = id;
            }
            else
            {
                for (int j = 0; j < codePointLength; j++)
                    tokens[count++] = ByteFallback((byte)codePoint[j]);
            }

            codePointLength = 0; // a run of stray continuation bytes starts afresh
        }

        count = MergePairs(tokens, count);
        if (eos)
            tokens[count++] = Eos; // room: BOS + dummy prefix + one token per byte + EOS <= utf8.Length + 3

        return tokens[..count];
    }

    /// <summary>
    /// The bytes llama2.c's <c>decode(prev, token)</c> yields: the token's bytes, without a leading space when
    /// <paramref name="previousToken"/> is <see cref="Bos"/>, and a raw-byte token <c>&lt;0xAB&gt;</c> turned into the byte 0xAB.
    /// </summary>
    /// <param name="previousToken">The token before this one (any value; only <see cref="Bos"/> matters).</param>
    /// <param name="token">The token to decode.</param>
    /// <returns>A new array; it may hold part of a UTF-8 sequence.</returns>
    public byte[] DecodePieceBytes(int previousToken, int token) => DecodePieceMemory(previousToken, token).ToArray();

    /// <summary>
    /// <see cref="DecodePieceBytes"/> as text. A piece that is part of a multi-byte UTF-8 sequence (a raw-byte token,
    /// for example) decodes to U+FFFD here; use <see cref="Decode"/> for whole sequences.
    /// </summary>
    /// <param name="previousToken">The token before this one (any value; only <see cref="Bos"/> matters).</param>
    /// <param name="token">The token to decode.</param>
    /// <returns>The piece as text.</returns>
    public string DecodePiece(int previousToken, int token) => Encoding.UTF8.GetString(DecodePieceMemory(previousToken, token).Span);

    /// <summary>
    /// Decodes a token sequence: concatenates the pieces (each decoded against the token before it, as llama2.c prints
    /// them) and then decodes the bytes as UTF-8. <see cref="Bos"/> and <see cref="Eos"/> contribute no text, so
    /// <c>Decode(Encode(s))</c> returns <c>s</c> for ordinary text.
    /// </summary>
    /// <param name="tokens">Token ids.</param>
    /// <returns>The text.</returns>
    public string Decode(ReadOnlySpan<int> tokens)
    {
        var bytes = new List<byte>(tokens.Length * 4);
        for (int i = 0; i < tokens.Length; i++)
        {
            CheckToken(tokens[i]);
            if (tokens[i] is Bos or Eos)
                continue;
            bytes.AddRange(DecodePieceMemory(i > 0 ? tokens[i - 1] : -1, tokens[i]).Span);
        }

        return Encoding.UTF8.GetString(System.Runtime.InteropServices.CollectionsMarshal.AsSpan(bytes));
    }

    /// <summary>The decoded piece as a view of memory the tokenizer owns; callers must not write to it.</summary>
    internal ReadOnlyMemory<byte> DecodePieceMemory(int previousToken, int token)
    {
        CheckToken(token);
        ReadOnlyMemory<byte> piece = _pieces[token];
        // Following BOS, the sentencepiece decoder strips a leading space (llama2.c PR #89).
        if (previousToken == Bos && piece.Span[0] == (byte)' ')
            piece = piece[1..];
        return TryParseRawByte(piece.Span, out byte value) ? _rawBytePieces[value] : piece;
    }

    /// <summary>
    /// Recognizes a raw-byte token, <c>&lt;0xAB&gt;</c> with two hex digits. llama2.c uses
    /// <c>sscanf(piece, "&lt;0x%02hhX&gt;")</c>, which would also accept one digit or a missing '&gt;';
    /// no real vocabulary has such tokens, and the strict form keeps odd tokens literal.
    /// </summary>
    private static bool TryParseRawByte(ReadOnlySpan<byte> piece, out byte value)
    {
        value = 0;
        if (piece.Length != 6 || piece[0] != '<' || piece[1] != '0' || piece[2] != 'x' || piece[5] != '>')
            return false;
        int high = HexValue(piece[3]);
        int low = HexValue(piece[4]);
        if (high < 0 || low < 0)
            return false;
        value = (byte)((high << 4) | low);
        return true;
    }

    private static int HexValue(byte c) => c switch
    {
        >= (byte)'0' and <= (byte)'9' => c - '0',
        >= (byte)'A' and <= (byte)'F' => c - 'A' + 10,
        >= (byte)'a' and <= (byte)'f' => c - 'a' + 10,
        _ => -1,
    };

    /// <summary>llama2.c's merge loop: merge the leftmost best-scoring pair until none is in the vocabulary.</summary>
    private int MergePairs(int[] tokens, int count)
    {
        Span<char> pair = new char[2 * _longestPiece];
        while (true)
        {
            float bestScore = -1e10f;
            int bestId = -1;
            int bestIndex = -1;
            for (int i = 0; i < count - 1; i++)
            {
                byte[] left = _pieces[tokens[i]];
                byte[] right = _pieces[tokens[i + 1]];
                for (int j = 0; j < left.Length; j++)
                    pair[j] = (char)left[j];
                for (int j = 0; j < right.Length; j++)
                    pair[left.Length + j] = (char)right[j];
                int id = LookUp(pair[..(left.Length + right.Length)]);
                if (id >= 0 && _scores[id] > bestScore)
                {
                    bestScore = _scores[id];
                    bestId = id;
                    bestIndex = i;
                }
            }

            if (bestIndex < 0)
                return count;
            tokens[bestIndex] = bestId;
            Array.Copy(tokens, bestIndex + 2, tokens, bestIndex + 1, count - bestIndex - 2);
            count--;
        }
    }

    private int LookUp(ReadOnlySpan<char> latin1) => _idLookup.TryGetValue(latin1, out int id) ? id : -1;

    private int ByteFallback(byte value)
    {
        int id = value + ByteFallbackOffset;
        if (id >= _pieces.Length)
            throw new InvalidOperationException(
                $"byte 0x{value:X2} needs byte-fallback token {id}, but the vocabulary has only {_pieces.Length} tokens");
        return id;
    }

    private void CheckToken(int token)
    {
        if ((uint)token >= (uint)_pieces.Length)
            throw new ArgumentOutOfRangeException(nameof(token), token, $"Token id must be within [0, {_pieces.Length}).");
    }

    private static void CheckVocabSize(int vocabSize)
    {
        if (vocabSize is < LlamaConfig.MinVocabSize or > MaxVocabSize)
            throw new ArgumentOutOfRangeException(nameof(vocabSize), vocabSize, $"Vocabulary size must be within [{LlamaConfig.MinVocabSize}, {MaxVocabSize}] (BOS = 1 and EOS = 2 must exist).");
    }
}
