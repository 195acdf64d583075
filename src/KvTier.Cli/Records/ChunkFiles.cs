using System.Globalization;
using KvTier.Format;
using KvTier.Format.Codecs;
using KvTier.IO;
using KvTier.Keys;
using KvTier.Layout;
using KvTier.Reference;
using KvTier.Tensors;

namespace KvTier.Cli.Records;

/// <summary>
/// Moves KV between KV-cache safetensors files (format-spec/kv-safetensors.md) and chunk record files
/// (format-spec/kvtier-format.md): what <c>kvtier encode</c>, <c>kvtier decode</c> and the conformance runner do.
/// </summary>
/// <remarks>
/// Key derivation of <see cref="Encode"/>: the whole token sequence is ONE chunk, keyed by its prefix key under
/// <see cref="ChunkKeys"/> with <c>chunkTokens</c> = the token count and the given namespace ("" by default), key
/// kind prefix, first position 0. Decoding writes the token ids of <c>--tokens-from</c> when given (checked against
/// the record's key where the key allows it) and otherwise <see cref="UnknownToken"/> for every position, with the
/// metadata field <c>tokens_known</c> = <c>false</c>: a record carries no token ids, and no real id is negative.
/// Stateless; safe to call from any thread.
/// </remarks>
internal static class ChunkFiles
{
    /// <summary>The token id written when the ids are unknown: never a real token (ids are non-negative).</summary>
    public const int UnknownToken = -1;

    /// <summary>Metadata field of a decoded file: <c>true</c> when its token ids are real, <c>false</c> when they are all <see cref="UnknownToken"/>.</summary>
    public const string TokensKnownField = "tokens_known";

    /// <summary>Reads a whole record file; a file larger than one array is refused before reading.</summary>
    /// <exception cref="IOException">The file cannot be read or is too large.</exception>
    public static byte[] ReadRecordBytes(string path)
    {
        var info = new FileInfo(path);
        if (!info.Exists)
            throw new FileNotFoundException($"{path}: no such file.", path);
        if (info.Length > Array.MaxLength)
            throw new IOException($"{path}: {info.Length} bytes is more than this tool reads as one record ({Array.MaxLength}).");
        return File.ReadAllBytes(path);
    }

    /// <summary>The key <see cref="Encode"/> gives a token sequence: its prefix key as one chunk of all its tokens.</summary>
    /// <exception cref="ArgumentException">A token id is negative, there are no tokens or too many, or the namespace is invalid.</exception>
    public static ChunkKey WholeSequenceKey(ModelFingerprint fingerprint, string @namespace, ReadOnlySpan<int> tokens)
    {
        if (tokens.Length is < 1 or > ChunkKeys.MaxChunkTokens)
            throw new ArgumentException($"A record holds 1 to {ChunkKeys.MaxChunkTokens} tokens; the file has {tokens.Length}.", nameof(tokens));
        if (tokens.IndexOfAnyInRange(int.MinValue, -1) >= 0)
            throw new ArgumentException("The file's token ids are unknown (negative), so no chunk key can be derived; use the KV file written by `kvtier model kv`.", nameof(tokens));
        return new ChunkKeys(fingerprint, @namespace, tokens.Length).PrefixKeys(tokens)[0];
    }

    /// <summary>Encodes every token of a KV-cache file as one chunk record and writes it crash-safely.</summary>
    /// <param name="inputPath">A file written by <c>kvtier model kv</c> (or anything <see cref="KvCacheFile.Read(string)"/> accepts).</param>
    /// <param name="outputPath">The record file to write (replaced atomically).</param>
    /// <param name="codec">The codec.</param>
    /// <param name="level">A level of <paramref name="codec"/>.</param>
    /// <param name="namespace">Namespace of the key derivation.</param>
    /// <exception cref="KvTierFormatException">The input is not a valid KV-cache file.</exception>
    /// <exception cref="ArgumentException">The input cannot be one record (too many tokens, non-finite values for a lossy codec, unknown token ids).</exception>
    public static EncodeResult Encode(string inputPath, string outputPath, CodecInfo codec, int level, string @namespace)
    {
        KvCacheFileContents file = KvCacheFile.Read(inputPath);
        KvLayout layout = file.Layout;
        int tokens = file.Tokens.Length;
        ChunkKey key = WholeSequenceKey(file.Fingerprint, @namespace, file.Tokens);
        KvChunk chunk = KvCacheChunks.ToChunk(file.Cache, 0, tokens, layout);
        long rounded = CountRounded(chunk, file.Cache);
        byte[] record = ChunkRecordWriter.Encode(chunk, new ChunkRecordMetadata(file.Fingerprint, key, ChunkKeyKind.Prefix, 0), codec.Id, level);
        AtomicFile.WriteAllBytes(outputPath, record);
        return new EncodeResult(Path.GetFullPath(outputPath), codec, level, layout, tokens, key, 2L * layout.Layers * tokens * layout.KvDim, record.LongLength, rounded);
    }

    /// <summary>
    /// Decodes a record file (every checksum verified, every section decoded) and writes its KV as a KV-cache file,
    /// crash-safely; nothing is written when the record is invalid.
    /// </summary>
    /// <param name="inputPath">The record file.</param>
    /// <param name="outputPath">The safetensors file to write (replaced atomically).</param>
    /// <param name="tokensFrom">A KV-cache file whose token ids (and prompt) to write; null to write <see cref="UnknownToken"/>.</param>
    /// <param name="namespace">Namespace under which the record's key is checked against <paramref name="tokensFrom"/>'s tokens.</param>
    /// <exception cref="ChunkRecordException">The record is invalid.</exception>
    /// <exception cref="ArgumentException"><paramref name="tokensFrom"/> does not belong to the record.</exception>
    public static DecodeResult Decode(string inputPath, string outputPath, string? tokensFrom, string @namespace)
    {
        ChunkRecord record = ChunkRecord.Parse(ReadRecordBytes(inputPath), inputPath);
        KvChunk chunk = record.Decode();
        ChunkRecordHeader header = record.Header;

        int[] tokens;
        string? prompt = null;
        KeyCheck keyCheck = KeyCheck.NoTokens;
        if (tokensFrom is null)
        {
            tokens = new int[header.TokenCount];
            tokens.AsSpan().Fill(UnknownToken);
        }
        else
        {
            KvCacheFileContents source = KvCacheFile.Read(tokensFrom);
            if (!source.Fingerprint.Equals(header.Fingerprint))
                throw new ArgumentException($"{tokensFrom} is KV of model fingerprint {source.Fingerprint}; the record's is {header.Fingerprint}.", nameof(tokensFrom));
            if (source.Tokens.Length != header.TokenCount)
                throw new ArgumentException($"{tokensFrom} has {source.Tokens.Length} tokens; the record has {header.TokenCount}.", nameof(tokensFrom));
            tokens = source.Tokens;
            prompt = source.Prompt;
            keyCheck = CheckKey(header, tokens, @namespace, tokensFrom);
        }

        SafetensorsWriter writer = KvCacheFile.CreateWriter(header.Fingerprint, tokens, ToCache(chunk), prompt);
        writer.AddMetadata(TokensKnownField, tokensFrom is null ? "false" : "true");
        writer.AddMetadata("chunk_key", header.Key.ToString());
        writer.AddMetadata("chunk_key_kind", header.KeyKind == ChunkKeyKind.Prefix ? "prefix" : "segment");
        writer.AddMetadata("first_position", header.FirstPosition.ToString(CultureInfo.InvariantCulture));
        writer.AddMetadata("codec", ChunkCodecs.Get(header.Codec).Name);
        writer.AddMetadata("codec_level", header.Level.ToString(CultureInfo.InvariantCulture));
        writer.WriteTo(outputPath);
        return new DecodeResult(Path.GetFullPath(outputPath), header, keyCheck);
    }

    /// <summary>A chunk's KV widened to binary32 in a new cache of exactly its length.</summary>
    public static KvCache ToCache(KvChunk chunk)
    {
        var cache = new KvCache(chunk.Layout.Layers, chunk.Layout.KvDim, chunk.TokenCount);
        KvCacheChunks.LoadInto(chunk, cache, 0);
        return cache;
    }

    // How many of the cache's binary32 values the chunk's element type could not hold exactly (0 for f32).
    private static long CountRounded(KvChunk chunk, KvCache cache)
    {
        if (chunk.Layout.ElementType == KvElementType.Float32)
            return 0;
        long rounded = 0;
        var widened = new float[chunk.ElementsPerSection];
        for (int layer = 0; layer < chunk.Layout.Layers; layer++)
        {
            foreach (SectionKind kind in (ReadOnlySpan<SectionKind>)[SectionKind.Keys, SectionKind.Values])
            {
                chunk.GetSingle(layer, kind, widened);
                ReadOnlySpan<float> original = kind == SectionKind.Keys ? cache.Keys(layer) : cache.Values(layer);
                for (int i = 0; i < widened.Length; i++)
                {
                    if (BitConverter.SingleToUInt32Bits(widened[i]) != BitConverter.SingleToUInt32Bits(original[i]))
                        rounded++;
                }
            }
        }

        return rounded;
    }

    private static KeyCheck CheckKey(ChunkRecordHeader header, int[] tokens, string @namespace, string tokensFrom)
    {
        if (tokens.AsSpan().IndexOfAnyInRange(int.MinValue, -1) >= 0)
            throw new ArgumentException($"{tokensFrom} has unknown (negative) token ids.", nameof(tokensFrom));
        ChunkKey expected;
        if (header.KeyKind == ChunkKeyKind.Segment)
            expected = new ChunkKeys(header.Fingerprint, @namespace, tokens.Length).SegmentKey(tokens);
        else if (header.FirstPosition == 0)
            expected = WholeSequenceKey(header.Fingerprint, @namespace, tokens);
        else
            return KeyCheck.NotCheckable; // a prefix key past position 0 also covers tokens this file does not have

        if (expected != header.Key)
        {
            throw new ArgumentException(
                $"the token ids of {tokensFrom} do not give the record's {(header.KeyKind == ChunkKeyKind.Prefix ? "prefix" : "segment")} key "
                + $"{header.Key} in namespace \"{@namespace}\" (they give {expected}); they are not this record's tokens.",
                nameof(tokensFrom));
        }

        return KeyCheck.Matched;
    }
}
