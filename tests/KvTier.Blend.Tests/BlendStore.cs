using System.Runtime.InteropServices;
using KvTier.Format;
using KvTier.Format.Codecs;
using KvTier.Keys;
using KvTier.Layout;
using KvTier.Prefetch;
using KvTier.Storage;
using KvTier.Testing.Records;
using Xunit;

namespace KvTier.Blend.Tests;

/// <summary>
/// A real <see cref="KvStore"/> in a fresh temp directory with a prefetcher and a blender over it, and helpers that
/// store synthetic chunks (random K and V, kept here so tests can derive what a blend must produce).
/// </summary>
internal sealed class BlendStore : IAsyncDisposable
{
    /// <summary>Small chunks, so that a short token span splits into several.</summary>
    public const int ChunkTokens = 4;

    private readonly bool _verifyOnPut;
    private readonly PrefetcherOptions _prefetcherOptions;

    public BlendStore(KvLayout layout, BlendOptions? options = null, bool verifyOnPut = true, int chunkTokens = ChunkTokens, PrefetcherOptions? prefetcherOptions = null)
        : this(new ChunkKeys(ModelFingerprint.Compute("kvtier-blend-test", layout), "", chunkTokens), options, verifyOnPut, prefetcherOptions)
    {
    }

    /// <summary>A store for the key space <paramref name="keys"/> (a real model's, say).</summary>
    public BlendStore(ChunkKeys keys, BlendOptions? options = null, bool verifyOnPut = true, PrefetcherOptions? prefetcherOptions = null)
    {
        _verifyOnPut = verifyOnPut;
        _prefetcherOptions = prefetcherOptions ?? new PrefetcherOptions { DecodeParallelism = 2 };
        Directory = Path.Combine(Path.GetTempPath(), "kvtier-blend-tests", Guid.NewGuid().ToString("n"));
        System.IO.Directory.CreateDirectory(Directory);
        Store = KvStore.Open(StoreOptions());
        Keys = keys;
        Prefetcher = new Prefetcher(Store, _prefetcherOptions);
        Blender = new Blender(Prefetcher, Keys, options);
    }

    public string Directory { get; }

    public KvStore Store { get; private set; }

    public ChunkKeys Keys { get; }

    public KvLayout Layout => Keys.Fingerprint.Layout;

    public Prefetcher Prefetcher { get; private set; }

    public Blender Blender { get; private set; }

    /// <summary>3 layers × 2 KV heads × 8, binary32, RoPE θ = 10000 over all 8 channels in adjacent pairs, keys after RoPE.</summary>
    public static KvLayout Layout3(RopePairing pairing = RopePairing.AdjacentPairs, int rotary = 8, bool keysAfterRope = true,
        KvElementType type = KvElementType.Float32, int layers = 3, int heads = 2, int headDim = 8) =>
        new(layers, heads, headDim, type, new RopeParameters(10000, rotary, pairing), keysAfterRope);

    /// <summary>Random tokens (a fixed seed), for segment keys.</summary>
    public static int[] Tokens(int count, int seed)
    {
        var random = new Random(seed);
        var tokens = new int[count];
        for (int i = 0; i < tokens.Length; i++)
            tokens[i] = random.Next(32000);
        return tokens;
    }

    /// <summary>Random K and V of <paramref name="tokens"/> tokens for every layer of <paramref name="layout"/>.</summary>
    public static StoredChunk RandomChunk(KvLayout layout, int tokens, int seed, int firstPosition)
    {
        var random = new Random(seed);
        var keys = new float[layout.Layers][];
        var values = new float[layout.Layers][];
        for (int layer = 0; layer < layout.Layers; layer++)
        {
            keys[layer] = new float[tokens * layout.KvDim];
            values[layer] = new float[tokens * layout.KvDim];
            for (int i = 0; i < keys[layer].Length; i++)
            {
                keys[layer][i] = (float)(random.NextDouble() * 8 - 4);
                values[layer][i] = (float)(random.NextDouble() * 8 - 4);
            }
        }

        return new StoredChunk(layout, tokens, firstPosition, keys, values);
    }

    /// <summary>Encodes <paramref name="chunk"/> (raw codec) as the record of <paramref name="key"/>.</summary>
    public byte[] Encode(ChunkKey key, StoredChunk chunk, ChunkKeyKind kind = ChunkKeyKind.Segment, ModelFingerprint? fingerprint = null)
    {
        var kv = new KvChunk(chunk.Layout, chunk.TokenCount);
        for (int layer = 0; layer < chunk.Layout.Layers; layer++)
        {
            kv.SetSingle(layer, SectionKind.Keys, chunk.Keys[layer]);
            kv.SetSingle(layer, SectionKind.Values, chunk.Values[layer]);
        }

        fingerprint ??= chunk.Layout.Equals(Layout) ? Keys.Fingerprint : ModelFingerprint.Compute("kvtier-blend-test", chunk.Layout);
        return ChunkRecordWriter.Encode(kv, new ChunkRecordMetadata(fingerprint, key, kind, chunk.FirstPosition), CodecId.Raw, null);
    }

    /// <summary>Stores random KV of <paramref name="tokens"/> under its segment key, computed from <paramref name="firstPosition"/>.</summary>
    public StoredChunk PutSegment(ReadOnlySpan<int> tokens, int firstPosition, int seed)
    {
        ChunkKey key = Keys.SegmentKey(tokens);
        StoredChunk chunk = RandomChunk(Layout, tokens.Length, seed, firstPosition);
        Put(key, chunk, ChunkKeyKind.Segment);
        return chunk;
    }

    /// <summary>Stores <paramref name="chunk"/> under <paramref name="key"/>; returns the record.</summary>
    public byte[] Put(ChunkKey key, StoredChunk chunk, ChunkKeyKind kind)
    {
        byte[] record = Encode(key, chunk, kind);
        Store.Put(record);
        return record;
    }

    /// <summary>
    /// Closes the store, flips one byte in the middle of a stored record's section payload in its segment file, and
    /// reopens the store (with a new prefetcher and blender over it).
    /// </summary>
    public async Task FlipPayloadByteAsync(byte[] record, int layer, SectionKind kind)
    {
        await Prefetcher.DisposeAsync();
        Store.Dispose();
        bool found = SegmentCorruption.FlipPayloadByte(Directory, record, layer, kind);
        Assert.True(found, "the record is in no segment file");
        Store = KvStore.Open(StoreOptions());
        Prefetcher = new Prefetcher(Store, _prefetcherOptions);
        Blender = new Blender(Prefetcher, Keys, Blender.Options);
    }

    /// <summary>Asserts that no lease, staging block or prefetch request is still held.</summary>
    public void AssertReleased()
    {
        Assert.Equal(0, Store.GetStatistics().OpenLeases);
        PrefetcherStatistics s = Prefetcher.GetStatistics();
        Assert.Equal(0, s.StagingRentedBytes);
        Assert.Equal(0, s.ActiveRequests);
    }

    public async ValueTask DisposeAsync()
    {
        await Prefetcher.DisposeAsync();
        Store.Dispose();
        try
        {
            System.IO.Directory.Delete(Directory, recursive: true);
        }
        catch (IOException)
        {
        }
    }

    private KvStoreOptions StoreOptions() => new()
    {
        Directory = Directory,
        MemoryCapacityBytes = 0,
        DiskCapacityBytes = 1L << 30,
        SegmentSizeBytes = 1L << 20,
        MaxRecordBytes = 1L << 19,
        Durability = DurabilityMode.NoSync,
        VerifyOnPut = _verifyOnPut,
    };
}

/// <summary>The K and V a test stored for one chunk, per layer, and the position its first token was computed at.</summary>
internal sealed record StoredChunk(KvLayout Layout, int TokenCount, int FirstPosition, float[][] Keys, float[][] Values);

/// <summary>Bit-level comparisons of binary32 rows.</summary>
internal static class Bits
{
    /// <summary>Asserts bit equality (signed zeros and NaN payloads included), naming the first differing index.</summary>
    public static void Equal(ReadOnlySpan<float> expected, ReadOnlySpan<float> actual, string what)
    {
        Assert.Equal(expected.Length, actual.Length);
        ReadOnlySpan<int> e = MemoryMarshal.Cast<float, int>(expected);
        ReadOnlySpan<int> a = MemoryMarshal.Cast<float, int>(actual);
        int mismatch = e.CommonPrefixLength(a);
        if (mismatch != e.Length)
            Assert.Fail($"{what}: element {mismatch}: expected {expected[mismatch]} (0x{e[mismatch]:X8}), got {actual[mismatch]} (0x{a[mismatch]:X8}).");
    }
}
