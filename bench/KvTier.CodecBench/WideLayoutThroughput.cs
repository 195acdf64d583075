using System.Diagnostics;
using KvTier.Format;
using KvTier.Format.Codecs;
using KvTier.Keys;
using KvTier.Layout;
using KvTier.Reference;

namespace KvTier.CodecBench;

/// <summary>
/// Decode speed where it matters: an 8B-class section (256 tokens × 8 KV heads × 128). The tiny model's sections
/// (8,192 elements) are too small for the lane-parallel decoder to reach its speed; here the real model's KV of the
/// first prompt is tiled across 1024 channels with a per-channel gain, so value statistics stay real. With an f16 or
/// bf16 layout the time includes rounding the decoded binary32 values to the element type.
/// </summary>
internal static class WideLayoutThroughput
{
    public static double DecodeElementsPerSecond(KvCorpus corpus, int level, KvElementType elementType)
    {
        const int Tokens = 256, Heads = 8, HeadDim = 128, Width = Heads * HeadDim;
        var layout = new KvLayout(1, Heads, HeadDim, elementType, new RopeParameters(500000, HeadDim, RopePairing.SplitHalves), true);
        KvCache source = corpus.Runs[0].ExactCache;
        int sourceWidth = source.KvDim;
        var chunk = new KvChunk(layout, Tokens);
        foreach (SectionKind kind in new[] { SectionKind.Keys, SectionKind.Values })
        {
            ReadOnlySpan<float> real = kind == SectionKind.Keys ? source.Keys(1) : source.Values(1);
            var values = new float[Tokens * Width];
            for (int t = 0; t < Tokens; t++)
            {
                for (int c = 0; c < Width; c++)
                    values[t * Width + c] = real[t * sourceWidth + c % sourceWidth] * (0.5f + (c * 37 % 101) / 100f);
            }

            chunk.SetSingle(0, kind, values);
        }

        var keys = new ChunkKeys("bench/8b-class", layout, chunkTokens: Tokens);
        byte[] record = ChunkRecordWriter.Encode(chunk, new ChunkRecordMetadata(keys.Fingerprint, keys.Root), CodecId.Ans, level);
        ChunkRecord parsed = ChunkRecord.Parse(record);
        var output = new float[Tokens * Width];
        for (int i = 0; i < 5; i++)
            parsed.DecodeSection(0, SectionKind.Keys, output); // warm-up

        // Best of several runs of one K and one V section decode (checksum included): elements per second on one thread.
        double best = double.MaxValue;
        for (int run = 0; run < 20; run++)
        {
            var watch = Stopwatch.StartNew();
            parsed.DecodeSection(0, SectionKind.Keys, output);
            parsed.DecodeSection(0, SectionKind.Values, output);
            best = Math.Min(best, watch.Elapsed.TotalSeconds);
        }

        if (Environment.GetEnvironmentVariable("KVTIER_WIDE_DIAG") == "1")
        {
            PrintDiagnostics(parsed, output, Tokens * Width);
            for (int other = 1; other <= 4; other++)
            {
                Console.WriteLine($"  level {other}:");
                PrintDiagnostics(ChunkRecord.Parse(ChunkRecordWriter.Encode(chunk, new ChunkRecordMetadata(keys.Fingerprint, keys.Root), CodecId.Ans, other)), output, Tokens * Width);
            }
        }

        return 2.0 * Tokens * Width / best;
    }

    /// <summary>
    /// Diagnostics (environment KVTIER_WIDE_DIAG=1; also run for levels 1 to 4): each section's ans header fields, its
    /// size, its decode speed alone (best of 30) and how much of that the section checksum takes.
    /// </summary>
    private static void PrintDiagnostics(ChunkRecord parsed, float[] output, int elements)
    {
        foreach (SectionKind kind in new[] { SectionKind.Keys, SectionKind.Values })
        {
            ReadOnlySpan<byte> payload = parsed.GetPayload(0, kind);
            int lanes = payload[6] | (payload[7] << 8), groups = payload[8] | (payload[9] << 8);
            double checksum = Best(() => parsed.GetPayload(0, kind));
            double decode = Best(() => parsed.DecodeSection(0, kind, output));
            Console.WriteLine($"  wide {kind}: axis {payload[1]} scale_type {payload[2]} prediction {payload[3]} B {payload[4]} N {lanes} G {groups}; "
                + $"{8.0 * payload.Length / elements:F3} bits/elem; decode {elements / decode:E2} el/s, checksum alone {elements / checksum:E2} el/s ({checksum / decode:P1} of decode)");
        }

        static double Best(Action action)
        {
            double best = double.MaxValue;
            for (int run = 0; run < 30; run++)
            {
                var watch = Stopwatch.StartNew();
                action();
                best = Math.Min(best, watch.Elapsed.TotalSeconds);
            }

            return best;
        }
    }
}
