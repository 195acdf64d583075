using System.Runtime.InteropServices;
using KvTier.Format.Codecs;
using KvTier.Format.Codecs.Ans;
using KvTier.Gpu.Kernels;

namespace KvTier.Gpu;

/// <summary>
/// What the host prepares for the <c>ans</c> kernels from a validated payload (format-spec/kvtier-format.md §9.1):
/// cumulative frequency rows, lane states and word offsets, the lane words and the launch shape. Every size is bounded
/// by the payload, which <see cref="AnsPayloadLayout.Parse"/> has checked.
/// </summary>
internal sealed class AnsHostTables
{
    private AnsHostTables(AnsPayloadLayout fields, AnsLaneShape shape, int[] cumulative, uint[] states, int[] starts, ushort[] words)
    {
        Fields = fields;
        Shape = shape;
        Cumulative = cumulative;
        States = states;
        Starts = starts;
        Words = words;
    }

    /// <summary>The payload's validated fields.</summary>
    public AnsPayloadLayout Fields { get; }

    /// <summary>The kernels' dimensions.</summary>
    public AnsLaneShape Shape { get; }

    /// <summary>G rows of A + 1 cumulative frequencies.</summary>
    public int[] Cumulative { get; }

    /// <summary>Each lane's initial state.</summary>
    public uint[] States { get; }

    /// <summary>N + 1 word offsets: lane j reads words [Starts[j], Starts[j + 1]).</summary>
    public int[] Starts { get; }

    /// <summary>Every lane's words (never empty: one zero word when W = 0, which no lane reads).</summary>
    public ushort[] Words { get; }

    /// <summary>Validates <paramref name="payload"/> as the CPU decoder does and builds the tables.</summary>
    /// <exception cref="Format.ChunkRecordException">The payload's layout breaks §9.1 (BadPayload).</exception>
    public static AnsHostTables Build(in SectionContext context, ReadOnlySpan<byte> payload)
    {
        AnsPayloadLayout fields = AnsPayloadLayout.Parse(context, payload);
        int kvDim = context.Layout.KvDim;
        int alphabet = fields.Alphabet;
        int groups = fields.TableGroups;
        int lanes = fields.Lanes;
        var shape = new AnsLaneShape(
            Elements: context.ElementCount,
            KvDim: kvDim,
            Lanes: lanes,
            ChannelsPerTable: kvDim / groups,
            Alphabet: alphabet,
            Bound: fields.Bound,
            ScaleGroupWidth: fields.ScaleAxis == AnsScaleAxis.PerChannel ? 0 : AnsFormat.TokenGroupWidth(fields.ScaleAxis, context.Layout.HeadDim, kvDim));

        var cumulative = new int[groups * (alphabet + 1)];
        for (int g = 0; g < groups; g++)
        {
            int sum = 0;
            for (int s = 0; s < alphabet; s++)
            {
                cumulative[g * (alphabet + 1) + s] = sum;
                sum += fields.Frequency(payload, g, s);
            }

            cumulative[g * (alphabet + 1) + alphabet] = sum;
        }

        var states = new uint[lanes];
        var starts = new int[lanes + 1];
        for (int j = 0; j < lanes; j++)
        {
            states[j] = fields.LaneState(payload, j);
            starts[j + 1] = starts[j] + fields.LaneWordCount(payload, j);
        }

        // SAFETY: reinterprets the little-endian stream region as u16 words; callers check the host is little-endian.
        ReadOnlySpan<ushort> stored = MemoryMarshal.Cast<byte, ushort>(payload.Slice(fields.StreamsOffset, 2 * fields.WordCount));
        ushort[] words = stored.IsEmpty ? new ushort[1] : stored.ToArray();
        return new AnsHostTables(fields, shape, cumulative, states, starts, words);
    }

    /// <summary>The scales as binary32 on the host (f16 widened exactly): for references and tests.</summary>
    public float[] WidenedScales(ReadOnlySpan<byte> payload)
    {
        var scales = new float[Fields.ScaleCount];
        for (int k = 0; k < scales.Length; k++)
            scales[k] = Fields.Scale(payload, k);
        return scales;
    }
}
