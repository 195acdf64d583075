using KvTier.Layout;

namespace KvTier.Keys;

/// <summary>
/// Derives the keys of chunks for one model fingerprint, namespace and chunk size
/// (format-spec/key-derivation.md). Prefix keys chain: <c>H_i = SHA-256(tag ‖ H_(i-1) ‖ count ‖ tokens_i)</c>,
/// so each covers every token from the start of the sequence to the end of its chunk;
/// segment keys cover one chunk's tokens alone and do not depend on position.
/// Keys depend only on their inputs: they are identical across processes, machines and runs.
/// </summary>
/// <remarks>Immutable; all methods may run concurrently.</remarks>
public sealed class ChunkKeys
{
    /// <summary>Default number of tokens per chunk: 256, as LMCache.</summary>
    public const int DefaultChunkTokens = 256;

    /// <summary>Most tokens per chunk.</summary>
    public const int MaxChunkTokens = KeyDerivation.MaxChunkTokens;

    /// <summary>Longest namespace, in UTF-8 bytes.</summary>
    public const int MaxNamespaceBytes = KeyDerivation.MaxNamespaceBytes;

    private readonly byte[] _rootBytes;

    /// <summary>Creates a key space.</summary>
    /// <param name="fingerprint">The model fingerprint every key is bound to.</param>
    /// <param name="namespace">Tenant or isolation domain, at most 255 bytes in UTF-8, compared exactly; "" (the default) is the shared namespace. Different namespaces never share keys.</param>
    /// <param name="chunkTokens">Tokens per chunk, 1 to <see cref="MaxChunkTokens"/>. Default: 256. Smaller chunks find more partial reuse; larger ones mean fewer records and lookups.</param>
    /// <exception cref="ArgumentException">The namespace is too long or not valid Unicode.</exception>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="chunkTokens"/> is out of range.</exception>
    public ChunkKeys(ModelFingerprint fingerprint, string @namespace = "", int chunkTokens = DefaultChunkTokens)
    {
        ArgumentNullException.ThrowIfNull(fingerprint);
        if (chunkTokens is < 1 or > MaxChunkTokens)
            throw new ArgumentOutOfRangeException(nameof(chunkTokens), chunkTokens, $"Chunk size must be within [1, {MaxChunkTokens}] tokens.");
        byte[] ns = KeyDerivation.EncodeName(@namespace, KeyDerivation.MaxNamespaceBytes, nameof(@namespace), allowEmpty: true);

        Fingerprint = fingerprint;
        Namespace = @namespace;
        ChunkTokens = chunkTokens;

        // Spec §3: H_-1 = SHA-256(tag ‖ fingerprint ‖ u16 namespace length ‖ namespace).
        Span<byte> head = stackalloc byte[ModelFingerprint.Size + 2 + ns.Length];
        fingerprint.Digest.CopyTo(head);
        System.Buffers.Binary.BinaryPrimitives.WriteUInt16LittleEndian(head[ModelFingerprint.Size..], (ushort)ns.Length);
        ns.CopyTo(head[(ModelFingerprint.Size + 2)..]);
        Span<byte> input = stackalloc byte[KeyDerivation.TagSize + head.Length];
        KeyDerivation.WriteTag(input, KeyDerivation.RootTag);
        head.CopyTo(input[KeyDerivation.TagSize..]);
        Span<byte> digest = stackalloc byte[ChunkKey.Size];
        System.Security.Cryptography.SHA256.HashData(input, digest);
        Root = ChunkKey.FromBytes(digest);
        _rootBytes = digest.ToArray();
    }

    /// <summary>Creates a key space for a model id and layout (computes the fingerprint).</summary>
    /// <inheritdoc cref="ChunkKeys(ModelFingerprint, string, int)"/>
    public ChunkKeys(string modelId, KvLayout layout, string @namespace = "", int chunkTokens = DefaultChunkTokens)
        : this(ModelFingerprint.Compute(modelId, layout), @namespace, chunkTokens)
    {
    }

    /// <summary>The model fingerprint every key is bound to.</summary>
    public ModelFingerprint Fingerprint { get; }

    /// <summary>The namespace every key is bound to.</summary>
    public string Namespace { get; }

    /// <summary>Tokens per chunk.</summary>
    public int ChunkTokens { get; }

    /// <summary>
    /// <c>H_-1</c>, the start of every prefix chain and the head of every segment key. Not itself a chunk key.
    /// </summary>
    public ChunkKey Root { get; }

    /// <summary>
    /// Splits a sequence of <paramref name="tokenCount"/> tokens into chunks of <see cref="ChunkTokens"/>;
    /// a remainder becomes a trailing partial chunk. An empty sequence has no chunks.
    /// </summary>
    public TokenChunk[] Split(int tokenCount)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(tokenCount);
        int full = tokenCount / ChunkTokens;
        int rest = tokenCount % ChunkTokens;
        var chunks = new TokenChunk[full + (rest > 0 ? 1 : 0)];
        for (int i = 0; i < full; i++)
            chunks[i] = new TokenChunk(i, i * ChunkTokens, ChunkTokens, IsPartial: false);
        if (rest > 0)
            chunks[full] = new TokenChunk(full, full * ChunkTokens, rest, IsPartial: true);
        return chunks;
    }

    /// <summary>
    /// The prefix key of every chunk of <paramref name="tokens"/>, in order. Key i covers tokens
    /// <c>[0, end of chunk i)</c>. A trailing partial chunk is keyed by the same rule over its shorter
    /// token run (its count is part of the hash) unless <paramref name="includePartial"/> is false.
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException">A token id is negative.</exception>
    public ChunkKey[] PrefixKeys(ReadOnlySpan<int> tokens, bool includePartial = true)
    {
        TokenChunk[] chunks = Split(tokens.Length);
        int count = KeyedChunkCount(chunks, includePartial);
        var keys = new ChunkKey[count];
        ChunkKey previous = Root;
        for (int i = 0; i < count; i++)
        {
            previous = NextPrefixKey(previous, tokens.Slice(chunks[i].Start, chunks[i].Count));
            keys[i] = previous;
        }

        return keys;
    }

    /// <summary>
    /// One step of the prefix chain: the key of the chunk <paramref name="chunk"/> that follows the chunk
    /// keyed <paramref name="previous"/> (use <see cref="Root"/> for the first chunk). Lets an engine extend
    /// a sequence without rehashing what came before.
    /// </summary>
    /// <exception cref="ArgumentException"><paramref name="chunk"/> is empty or longer than <see cref="ChunkTokens"/>.</exception>
    /// <exception cref="ArgumentOutOfRangeException">A token id is negative.</exception>
    public ChunkKey NextPrefixKey(ChunkKey previous, ReadOnlySpan<int> chunk)
    {
        CheckChunkLength(chunk.Length);
        Span<byte> head = stackalloc byte[ChunkKey.Size];
        previous.CopyTo(head);
        return KeyDerivation.HashTokens(KeyDerivation.PrefixTag, head, chunk);
    }

    /// <summary>
    /// The position-independent segment key of one chunk's tokens (for blending): the same tokens give the
    /// same key wherever they occur in a prompt.
    /// </summary>
    /// <exception cref="ArgumentException"><paramref name="chunk"/> is empty or longer than <see cref="ChunkTokens"/>.</exception>
    /// <exception cref="ArgumentOutOfRangeException">A token id is negative.</exception>
    public ChunkKey SegmentKey(ReadOnlySpan<int> chunk)
    {
        CheckChunkLength(chunk.Length);
        return KeyDerivation.HashTokens(KeyDerivation.SegmentTag, _rootBytes, chunk);
    }

    /// <summary>The segment key of every chunk of <paramref name="tokens"/>, in order, under the same split as <see cref="PrefixKeys"/>.</summary>
    public ChunkKey[] SegmentKeys(ReadOnlySpan<int> tokens, bool includePartial = true)
    {
        TokenChunk[] chunks = Split(tokens.Length);
        int count = KeyedChunkCount(chunks, includePartial);
        var keys = new ChunkKey[count];
        for (int i = 0; i < count; i++)
            keys[i] = SegmentKey(tokens.Slice(chunks[i].Start, chunks[i].Count));
        return keys;
    }

    private static int KeyedChunkCount(TokenChunk[] chunks, bool includePartial) =>
        includePartial || chunks.Length == 0 || !chunks[^1].IsPartial ? chunks.Length : chunks.Length - 1;

    private void CheckChunkLength(int length)
    {
        if (length < 1 || length > ChunkTokens)
            throw new ArgumentException($"A chunk has 1 to {ChunkTokens} tokens; got {length}.", "chunk");
    }
}
