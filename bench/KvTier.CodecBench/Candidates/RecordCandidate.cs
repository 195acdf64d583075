using System.Diagnostics;
using KvTier.Format;
using KvTier.Format.Codecs;
using KvTier.Keys;
using KvTier.Layout;
using KvTier.Reference;

namespace KvTier.CodecBench.Candidates;

/// <summary>A KvTier chunk record: the chunk is encoded with a codec and level, then parsed, checked and decoded.</summary>
internal sealed class RecordCandidate(string name, string family, CodecInfo codec, int level, KvLayout layout, ChunkRecordMetadata metadata) : ICodecCandidate
{
    public string Name => name;

    public string Family => family;

    public CodecInfo Codec => codec;

    public int Level => level;

    public CandidateResult Run(KvCache exact, int tokens)
    {
        KvChunk chunk = KvCacheChunks.ToChunk(exact, 0, tokens, layout);
        var watch = Stopwatch.StartNew();
        byte[] record = ChunkRecordWriter.Encode(chunk, metadata, codec.Id, level);
        double encode = watch.Elapsed.TotalSeconds;

        watch.Restart();
        KvChunk decodedChunk = ChunkRecord.Parse(record).Decode();
        double decode = watch.Elapsed.TotalSeconds;

        var decoded = new KvCache(exact.Layers, exact.KvDim, exact.Capacity);
        KvCacheChunks.LoadInto(decodedChunk, decoded, 0);
        return new CandidateResult(record.Length, decoded, encode, decode);
    }

    /// <summary>Metadata for records of <paramref name="layout"/> (the key does not affect size or speed).</summary>
    public static ChunkRecordMetadata MetadataFor(string modelId, KvLayout layout, ReadOnlySpan<int> tokens)
    {
        var keys = new ChunkKeys(modelId, layout, chunkTokens: tokens.Length);
        return new ChunkRecordMetadata(keys.Fingerprint, keys.PrefixKeys(tokens)[0]);
    }
}
