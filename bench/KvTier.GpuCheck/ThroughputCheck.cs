using System.Runtime.InteropServices;
using System.Security.Cryptography;
using System.Text.Json.Nodes;
using ILGPU;
using ILGPU.Runtime;
using KvTier.Format;
using KvTier.Format.Codecs;
using KvTier.Gpu;
using KvTier.Gpu.Kernels;
using KvTier.Keys;
using KvTier.Layout;

namespace KvTier.GpuCheck;

/// <summary>
/// Decode throughput of an 8B-class section layout (tokens × 8 KV heads × 128, fp16; Llama 3 8B's KV width) for raw,
/// q8 and ans levels 1–4, on the device and, in the same run on the same records, on the CPU decoder
/// (<see cref="ChunkRecord.DecodeSection"/>, SIMD, one thread) as the baseline. Device timings:
/// <list type="bullet">
/// <item><c>deviceKernels</c>: excluding upload. raw and q8: the decoder's kernels launched on payloads already on the
/// device (exact). ans: the host tables it needs are internal to KvTier.Gpu, so this is decodeToDevice minus an upload
/// of the same payload bytes (an estimate that still counts the host's table build).</item>
/// <item><c>deviceDecodeToDevice</c>: <see cref="GpuSectionDecoder.Decode(ChunkRecord, int, SectionKind)"/>: upload,
/// host checks and kernels; the result stays on the device (what an inference engine consumes).</item>
/// <item><c>deviceDecodeToHost</c>: the same plus the download of binary32 values.</item>
/// </list>
/// </summary>
internal static class ThroughputCheck
{
    private const int KvHeads = 8;
    private const int HeadDim = 128;

    public static JsonObject Run(GpuSectionDecoder decoder, int tokens, int layers, double budgetSeconds)
    {
        Accelerator accelerator = decoder.Accelerator;
        var layout = new KvLayout(layers, KvHeads, HeadDim, KvElementType.Float16, new RopeParameters(500000, HeadDim, RopePairing.SplitHalves), keysStoredAfterRope: true);
        KvChunk chunk = Chunk(layout, tokens);
        var metadata = new ChunkRecordMetadata(ModelFingerprint.Compute("kvtier-gpucheck-8b-class", layout), ChunkKey.FromBytes(SHA256.HashData("kvtier-gpucheck"u8)));
        var kernels = new RawAndQ8Kernels(accelerator);
        var rows = new JsonArray();
        foreach ((CodecId codec, int level) in CodecLevels())
        {
            byte[] bytes = ChunkRecordWriter.Encode(chunk, metadata, codec, level);
            ChunkRecord record = ChunkRecord.Parse(bytes, $"{codec}-{level}");
            JsonObject row = Measure(decoder, kernels, record, budgetSeconds);
            row["codec"] = codec.ToString().ToLowerInvariant();
            row["level"] = level;
            row["bitsPerElement"] = Math.Round(8.0 * bytes.Length / (2L * layers * tokens * layout.KvDim), 3);
            rows.Add(row);
            Console.WriteLine(
                $"  {codec.ToString().ToLowerInvariant(),-4} {level}  {(double)row["bitsPerElement"]!,6:F2} bits/el  " +
                $"cpu {Rate(row, "cpuSimd"),9:F1}  kernels {Rate(row, "deviceKernels"),9:F1}  to-device {Rate(row, "deviceDecodeToDevice"),9:F1}  " +
                $"to-host {Rate(row, "deviceDecodeToHost"),9:F1} Melem/s  bit-identical {row["bitIdentical"]}");
        }

        return new JsonObject
        {
            ["layout"] = $"{tokens} tokens x {KvHeads} KV heads x {HeadDim}, fp16, {layers} layers (K and V: {2 * layers} sections per iteration)",
            ["elementsPerIteration"] = 2L * layers * tokens * layout.KvDim,
            ["budgetSecondsPerMeasurement"] = budgetSeconds,
            ["note"] = "fp16GBps counts decoded fp16 KV bytes (2 per element); cpuSimd is one thread; speedups are device elements/s over cpuSimd elements/s",
            ["rows"] = rows,
        };
    }

    /// <summary>Bit equality (signed zeros and NaN payloads included), which float equality is not.</summary>
    private static bool BitEqual(ReadOnlySpan<float> a, ReadOnlySpan<float> b) =>
        MemoryMarshal.Cast<float, uint>(a).SequenceEqual(MemoryMarshal.Cast<float, uint>(b));

    private static double Rate(JsonObject row, string name) => (double)row[name]!["elementsPerSecond"]! / 1e6;

    private static IEnumerable<(CodecId Codec, int Level)> CodecLevels()
    {
        yield return (CodecId.Raw, 0);
        yield return (CodecId.Q8, 0);
        for (int level = 1; level <= 4; level++)
            yield return (CodecId.Ans, level);
    }

    /// <summary>KV shaped like a model's: smooth along tokens, a few large K channels, a little noise.</summary>
    private static KvChunk Chunk(KvLayout layout, int tokens)
    {
        var chunk = new KvChunk(layout, tokens);
        var random = new Random(8);
        var values = new float[tokens * layout.KvDim];
        for (int layer = 0; layer < layout.Layers; layer++)
        {
            foreach (SectionKind kind in new[] { SectionKind.Keys, SectionKind.Values })
            {
                for (int t = 0; t < tokens; t++)
                {
                    for (int c = 0; c < layout.KvDim; c++)
                    {
                        double scale = kind == SectionKind.Keys && c % 37 == 0 ? 12 : 1 + c % 3;
                        values[t * layout.KvDim + c] = (float)(scale * Math.Sin(t * 0.03 + c * 0.7 + layer) + 0.2 * (random.NextDouble() * 2 - 1));
                    }
                }

                chunk.SetSingle(layer, kind, values);
            }
        }

        return chunk;
    }

    private static JsonObject Measure(GpuSectionDecoder decoder, RawAndQ8Kernels kernels, ChunkRecord record, double budget)
    {
        Accelerator accelerator = decoder.Accelerator;
        IReadOnlyList<SectionEntry> sections = record.Sections;
        int elements = record.Header.TokenCount * record.Header.Layout.KvDim;
        long total = (long)elements * sections.Count;
        var cpu = new float[elements];
        var host = new float[elements];

        // Bit identity on this data before timing it.
        bool identical = true;
        foreach (SectionEntry s in sections)
        {
            record.DecodeSection(s.Layer, s.Kind, cpu);
            decoder.Decode(record, s.Layer, s.Kind, host);
            identical &= BitEqual(cpu, host);
        }

        Timing cpuTiming = Timing.Measure(() =>
        {
            foreach (SectionEntry s in sections)
                record.DecodeSection(s.Layer, s.Kind, cpu);
        }, budget);
        Timing toHost = Timing.Measure(() =>
        {
            foreach (SectionEntry s in sections)
                decoder.Decode(record, s.Layer, s.Kind, host);
        }, budget);
        Timing toDevice = Timing.Measure(() =>
        {
            foreach (SectionEntry s in sections)
                decoder.Decode(record, s.Layer, s.Kind).Dispose();
        }, budget);

        Timing kernelTiming;
        string method;
        if (record.Header.Codec is CodecId.Raw or CodecId.Q8)
        {
            using DeviceSections staged = DeviceSections.Stage(accelerator, record);
            kernelTiming = Timing.Measure(() => kernels.Launch(record, staged), budget);
            identical &= kernels.MatchesCpu(record, staged);
            method = "the decoder's kernels on payloads already on the device (exact)";
        }
        else
        {
            Timing upload = Timing.Measure(() =>
            {
                foreach (SectionEntry s in sections)
                {
                    ReadOnlySpan<byte> payload = record.GetPayload(s.Layer, s.Kind);
                    using MemoryBuffer1D<byte, Stride1D.Dense> buffer = accelerator.Allocate1D<byte>(payload.Length);
                    buffer.View.CopyFromCPU(accelerator.DefaultStream, payload);
                    accelerator.Synchronize();
                }
            }, budget);
            double seconds = Math.Max(toDevice.MedianSeconds - upload.MedianSeconds, 1e-9);
            kernelTiming = new Timing(seconds, seconds, toDevice.Iterations);
            method = $"decodeToDevice minus a {upload.MedianSeconds * 1e6:F1} us upload of the payload bytes (estimate; includes the host's table build)";
        }

        double cpuRate = cpuTiming.ElementsPerSecond(total);
        return new JsonObject
        {
            ["sections"] = sections.Count,
            ["elementsPerSection"] = elements,
            ["payloadBytesPerSection"] = record.GetPayload(0, SectionKind.Keys).Length,
            ["bitIdentical"] = identical,
            ["cpuSimd"] = cpuTiming.ToJson(total, "ChunkRecord.DecodeSection to binary32, one thread"),
            ["deviceKernels"] = kernelTiming.ToJson(total, method),
            ["deviceDecodeToDevice"] = toDevice.ToJson(total, "GpuSectionDecoder.Decode to a device buffer: upload + kernels"),
            ["deviceDecodeToHost"] = toHost.ToJson(total, "GpuSectionDecoder.Decode to a host span: upload + kernels + download"),
            ["speedupVsCpu"] = new JsonObject
            {
                ["deviceKernels"] = Math.Round(kernelTiming.ElementsPerSecond(total) / cpuRate, 4),
                ["deviceDecodeToDevice"] = Math.Round(toDevice.ElementsPerSecond(total) / cpuRate, 4),
                ["deviceDecodeToHost"] = Math.Round(toHost.ElementsPerSecond(total) / cpuRate, 4),
            },
        };
    }

    /// <summary>Every section's payload of a raw fp16 or q8 record already on the device, with output buffers: what the kernel-only timing launches on.</summary>
    private sealed class DeviceSections : IDisposable
    {
        private readonly List<MemoryBuffer> _buffers = [];

        public List<(ArrayView<ushort> Halves, ArrayView<float> Scales, ArrayView<byte> Quantized, ArrayView<float> Output)> Views { get; } = [];

        public MemoryBuffer1D<int, Stride1D.Dense>? Fault { get; private set; }

        public static DeviceSections Stage(Accelerator accelerator, ChunkRecord record)
        {
            var staged = new DeviceSections();
            KvLayout layout = record.Header.Layout;
            int elements = record.Header.TokenCount * layout.KvDim;
            int groups = record.Header.TokenCount * layout.KvHeads;
            staged.Fault = staged.Keep(accelerator.Allocate1D<int>(1));
            staged.Fault.MemSetToZero();
            foreach (SectionEntry s in record.Sections)
            {
                ReadOnlySpan<byte> payload = record.GetPayload(s.Layer, s.Kind);
                MemoryBuffer1D<float, Stride1D.Dense> output = staged.Keep(accelerator.Allocate1D<float>(elements));
                if (record.Header.Codec == CodecId.Raw)
                {
                    // SAFETY: the little-endian payload viewed as u16 words (fp16 layout, checked by the caller's codec choice).
                    var halves = staged.Keep(accelerator.Allocate1D(MemoryMarshal.Cast<byte, ushort>(payload).ToArray()));
                    staged.Views.Add((halves.View, default, default, output.View));
                }
                else
                {
                    // SAFETY: the q8 payload's leading 4 × groups bytes are little-endian binary32 scales (§8).
                    var scales = staged.Keep(accelerator.Allocate1D(MemoryMarshal.Cast<byte, float>(payload[..(4 * groups)]).ToArray()));
                    var quantized = staged.Keep(accelerator.Allocate1D(payload[(4 * groups)..].ToArray()));
                    staged.Views.Add((default, scales.View, quantized.View, output.View));
                }
            }

            accelerator.Synchronize();
            return staged;
        }

        private T Keep<T>(T buffer)
            where T : MemoryBuffer
        {
            _buffers.Add(buffer);
            return buffer;
        }

        public void Dispose()
        {
            foreach (MemoryBuffer buffer in _buffers)
                buffer.Dispose();
        }
    }

    /// <summary>The public kernels <see cref="GpuSectionDecoder"/> launches for raw fp16 (widen) and q8 (dequantize, round to fp16).</summary>
    private sealed class RawAndQ8Kernels(Accelerator accelerator)
    {
        private readonly Action<Index1D, ArrayView<ushort>, ArrayView<float>> _widenHalf =
            accelerator.LoadAutoGroupedStreamKernel<Index1D, ArrayView<ushort>, ArrayView<float>>(ElementKernels.WidenHalf);

        private readonly Action<Index1D, ArrayView<float>> _roundToHalf =
            accelerator.LoadAutoGroupedStreamKernel<Index1D, ArrayView<float>>(ElementKernels.RoundToHalf);

        private readonly Action<Index1D, ArrayView<byte>, ArrayView<float>, ArrayView<float>, ArrayView<int>, int> _q8Dequantize =
            accelerator.LoadAutoGroupedStreamKernel<Index1D, ArrayView<byte>, ArrayView<float>, ArrayView<float>, ArrayView<int>, int>(Q8Kernels.Dequantize);

        public void Launch(ChunkRecord record, DeviceSections staged)
        {
            int elements = record.Header.TokenCount * record.Header.Layout.KvDim;
            foreach (var (halves, scales, quantized, output) in staged.Views)
            {
                if (record.Header.Codec == CodecId.Raw)
                    _widenHalf(elements, halves, output);
                else
                {
                    _q8Dequantize(elements, quantized, scales, output, staged.Fault!.View, record.Header.Layout.HeadDim);
                    _roundToHalf(elements, output);
                }
            }

            accelerator.Synchronize();
        }

        /// <summary>True when the kernel-only outputs equal the CPU decoder's (so the timed work is the real decode).</summary>
        public bool MatchesCpu(ChunkRecord record, DeviceSections staged)
        {
            Launch(record, staged);
            var expected = new float[record.Header.TokenCount * record.Header.Layout.KvDim];
            var actual = new float[expected.Length];
            for (int i = 0; i < record.Sections.Count; i++)
            {
                SectionEntry s = record.Sections[i];
                record.DecodeSection(s.Layer, s.Kind, expected);
                staged.Views[i].Output.CopyToCPU(accelerator.DefaultStream, actual);
                accelerator.Synchronize();
                if (!BitEqual(expected, actual))
                    return false;
            }

            return true;
        }
    }
}
