using System.Runtime.InteropServices;
using KvTier.Format;
using KvTier.Format.Codecs;
using KvTier.Keys;
using KvTier.Layout;
using KvTier.Storage;
using KvTier.Storage.Remote;
using KvTier.Testing.Records;
using Xunit;

namespace KvTier.Prefetch.Tests;

/// <summary>A real <see cref="KvStore"/> in a fresh temp directory, with helpers to store chunk sequences and check what a prefetch delivered.</summary>
internal sealed class PrefetchStore : IDisposable
{
    public const int ChunkTokens = 16;

    private readonly bool _verifyOnPut;
    private readonly long _memoryBytes;
    private readonly IRemoteTier? _remote;

    public PrefetchStore(bool verifyOnPut = true, long memoryBytes = 0, IRemoteTier? remote = null)
    {
        _verifyOnPut = verifyOnPut;
        _memoryBytes = memoryBytes;
        _remote = remote;
        Directory = Path.Combine(Path.GetTempPath(), "kvtier-prefetch-tests", Guid.NewGuid().ToString("n"));
        System.IO.Directory.CreateDirectory(Directory);
        Store = KvStore.Open(Options());
    }

    public string Directory { get; }

    public KvStore Store { get; private set; }

    public static KvLayout Layout(KvElementType type = KvElementType.Float16, int layers = 3) =>
        new(layers, 2, 16, type, new RopeParameters(10000, 16, RopePairing.AdjacentPairs), keysStoredAfterRope: true);

    /// <summary>
    /// Encodes <paramref name="chunks"/> chunks of a random token sequence (the last one <paramref name="lastTokens"/>
    /// tokens) under their prefix keys and returns the keys and records; stores them
    /// after <paramref name="tamper"/> (which may return null to leave a chunk out).
    /// </summary>
    public (ChunkKey[] Keys, byte[][] Records) AddChunks(int chunks, CodecId codec, KvLayout? layout = null, int lastTokens = 9, int seed = 1,
        Func<int, byte[], byte[]?>? tamper = null, int? level = null)
    {
        KvLayout l = layout ?? Layout();
        var fingerprint = ModelFingerprint.Compute("kvtier-prefetch-test", l);
        var keys = new ChunkKeys(fingerprint, "", ChunkTokens);
        var random = new Random(seed);
        int tokenCount = (chunks - 1) * ChunkTokens + lastTokens;
        var tokens = new int[tokenCount];
        for (int i = 0; i < tokens.Length; i++)
            tokens[i] = random.Next(32000);
        ChunkKey[] prefixKeys = keys.PrefixKeys(tokens);
        Assert.Equal(chunks, prefixKeys.Length);
        var records = new byte[chunks][];
        for (int c = 0; c < chunks; c++)
        {
            int count = c == chunks - 1 ? lastTokens : ChunkTokens;
            records[c] = Encode(l, fingerprint, prefixKeys[c], count, seed * 1000 + c, codec, level, c * ChunkTokens);
            byte[]? stored = tamper is null ? records[c] : tamper(c, records[c]);
            if (stored is not null)
                Store.Put(stored);
        }
        return (prefixKeys, records);
    }

    public static byte[] Encode(KvLayout layout, ModelFingerprint fingerprint, ChunkKey key, int tokens, int seed, CodecId codec, int? level, int firstPosition)
    {
        var chunk = new KvChunk(layout, tokens);
        var random = new Random(seed);
        var values = new float[tokens * layout.KvDim];
        for (int layer = 0; layer < layout.Layers; layer++)
        {
            foreach (SectionKind kind in new[] { SectionKind.Keys, SectionKind.Values })
            {
                for (int i = 0; i < values.Length; i++)
                    values[i] = (float)(random.NextDouble() * 4 - 2) * (1 + i % 7);
                chunk.SetSingle(layer, kind, values);
            }
        }
        return ChunkRecordWriter.Encode(chunk, new ChunkRecordMetadata(fingerprint, key, ChunkKeyKind.Prefix, firstPosition), codec, level);
    }

    public static KvDestination Destination(int chunks, KvLayout? layout = null)
    {
        KvLayout l = layout ?? Layout();
        return KvDestination.Allocate(l.Layers, l.KvDim, chunks * ChunkTokens, ChunkTokens);
    }

    /// <summary>Asserts that <paramref name="layer"/> of chunk <paramref name="chunk"/> in the destination is <see cref="ChunkRecord.DecodeSection"/>'s output, bit for bit.</summary>
    public static void AssertDelivered(KvDestination destination, byte[] record, int chunk, int layer)
    {
        ChunkRecord parsed = ChunkRecord.Parse(record);
        foreach (SectionKind kind in new[] { SectionKind.Keys, SectionKind.Values })
        {
            var expected = new float[parsed.Header.TokenCount * parsed.Header.Layout.KvDim];
            parsed.DecodeSection(layer, kind, expected);
            ReadOnlySpan<float> actual = destination.Rows(layer, kind, chunk * destination.ChunkTokens, parsed.Header.TokenCount).Span;
            ReadOnlySpan<int> e = MemoryMarshal.Cast<float, int>(expected);
            ReadOnlySpan<int> a = MemoryMarshal.Cast<float, int>(actual);
            int mismatch = e.CommonPrefixLength(a);
            if (mismatch != e.Length)
                Assert.Fail($"chunk {chunk} layer {layer} {kind}: value {mismatch} is {actual[mismatch]} (0x{a[mismatch]:X8}), expected {expected[mismatch]} (0x{e[mismatch]:X8}).");
        }
    }

    /// <summary>Asserts that nothing of <paramref name="prefetcher"/> or the store is still held: leases, staging blocks, requests.</summary>
    public void AssertReleased(Prefetcher prefetcher)
    {
        Assert.Equal(0, Store.GetStatistics().OpenLeases);
        PrefetcherStatistics s = prefetcher.GetStatistics();
        Assert.Equal(0, s.StagingRentedBytes);
        Assert.Equal(0, s.StagingRentedBuffers);
        Assert.Equal(0, s.ActiveRequests);
        Assert.True(s.StagingAllocatedBytes <= s.StagingBudgetBytes, $"{s.StagingAllocatedBytes} bytes allocated over a budget of {s.StagingBudgetBytes}.");
    }

    /// <summary>Closes the store, flips one byte of a stored record's section payload in its segment file, and reopens it.</summary>
    public void FlipPayloadByte(byte[] record, int layer, SectionKind kind)
    {
        Store.Dispose();
        bool found = SegmentCorruption.FlipPayloadByte(Directory, record, layer, kind);
        Assert.True(found, "the record is in no segment file");
        Store = KvStore.Open(Options());
    }

    public void Dispose()
    {
        Store.Dispose();
        try
        {
            System.IO.Directory.Delete(Directory, recursive: true);
        }
        catch (IOException)
        {
        }
    }

    private KvStoreOptions Options() => new()
    {
        Directory = Directory,
        MemoryCapacityBytes = _memoryBytes,
        RemoteTier = _remote,
        DiskCapacityBytes = 1L << 30,
        SegmentSizeBytes = 1L << 20,
        MaxRecordBytes = 1L << 19,
        Durability = DurabilityMode.NoSync,
        VerifyOnPut = _verifyOnPut,
    };
}
