using KvTier.Format;
using KvTier.Format.Codecs;
using KvTier.Layout;
using Xunit;
using Xunit.Abstractions;

namespace KvTier.Gpu.Tests.Decoding;

/// <summary>
/// On a machine with a CUDA or OpenCL device (<see cref="AcceleratorSelection.CreateBest"/>), the same comparisons on
/// that device: every codec and level bit for bit with the CPU decoder. Skipped, with a message, where there is none.
/// </summary>
public sealed class RealAcceleratorTests(ITestOutputHelper output)
{
    [RequiresGpuFact]
    public void On_a_real_gpu_every_codec_decodes_as_the_cpu_does()
    {
        using Context context = AcceleratorSelection.CreateContext();
        using Accelerator? accelerator = AcceleratorSelection.CreateBest(context);
        Assert.NotNull(accelerator);

        output.WriteLine($"Device: {accelerator.Name} ({accelerator.AcceleratorType}).");
        using var decoder = new GpuSectionDecoder(accelerator);
        foreach ((CodecId codec, int level) in Records.CodecLevels())
        {
            foreach (KvElementType type in new[] { KvElementType.Float32, KvElementType.Float16, KvElementType.BFloat16 })
            {
                foreach (int tokens in Sizes.Tokens)
                {
                    ChunkRecord record = Records.Create(Records.Layout(type), tokens, codec, level, smooth: tokens % 2 == 1 && level % 2 == 0);
                    foreach (SectionKind kind in new[] { SectionKind.Keys, SectionKind.Values })
                    {
                        var expected = new float[tokens * record.Header.Layout.KvDim];
                        record.DecodeSection(0, kind, expected);
                        var actual = new float[expected.Length];
                        decoder.Decode(record, 0, kind, actual);
                        Sizes.BitEqual(expected, actual);
                    }
                }
            }
        }
    }
}
