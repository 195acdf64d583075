using KvTier.Format.Codecs;
using KvTier.Layout;

namespace KvTier.Cli.Conformance;

/// <summary>
/// Records whose <c>ans</c> payloads <see cref="AnsPayloadBuilder"/> wrote with choices KvTier's encoder never makes:
/// lane counts that are not powers of two or exceed the element count (empty lanes), one table per channel, bound 1
/// and 63, prediction on values and not on keys, a zero scale (so negative q decode to −0.0), f32 scales on the per-token
/// axis and f16 ones per channel.
/// </summary>
internal static class HandmadeAnsRecords
{
    private const int Tokens = 24;

    /// <summary>The section settings: scale_axis, scale_type, prediction, B, N, G for layer 0 K, layer 0 V, layer 1 K, layer 1 V.</summary>
    private static readonly (byte Axis, byte Type, byte Prediction, int Bound, int Lanes, int Groups)[] Sections =
    [
        (1, 1, 1, 7, 3, 2),
        (2, 2, 0, 5, 7, 16),
        (3, 1, 0, 63, 1, 1),
        (1, 2, 1, 1, 1024, 4),
    ];

    /// <summary>Describes the payloads, for the manifest.</summary>
    public const string Description =
        "2 layers, 2 KV heads x 8, 24 tokens; ans payloads written from the spec text, not by KvTier's encoder: "
        + "layer 0 K per-channel f32 scales, prediction 1, B 7, 3 lanes, 2 tables; layer 0 V per-token-and-head f16 scales, B 5, 7 lanes, 16 tables; "
        + "layer 1 K per-token f32 scales, B 63, 1 lane, 1 table; layer 1 V per-channel f16 scales with one scale 0 (negative q give -0.0), "
        + "prediction 1, B 1, 1024 lanes for 384 elements (640 empty lanes), 4 tables";

    /// <summary>The record; <paramref name="finalStateOffByOne"/> starts layer 0 K's lanes at 2^16 + 1, <paramref name="leaveBound"/> takes one q of layer 0 K to B + 1.</summary>
    public static byte[] Build(KvElementType type, bool finalStateOffByOne = false, bool leaveBound = false)
    {
        KvLayout layout = VectorGenerator.SmallLayout(type);
        byte[] record = VectorGenerator.Encode(layout, Tokens, ChunkCodecs.Raw, 0, seed: 77);
        record[22] = (byte)CodecId.Ans;
        record[23] = 2;
        var payloads = new byte[Sections.Length][];
        for (int j = 0; j < Sections.Length; j++)
        {
            (byte axis, byte scaleType, byte prediction, int bound, int lanes, int groups) = Sections[j];
            int kvDim = layout.KvDim;
            int[] q = Values(j, bound, kvDim, prediction == 1);
            if (leaveBound && j == 0)
            {
                q[kvDim] = bound + 1;    // token 1, channel 0: prediction leaves [-B, B]
                q[0] = bound;
                q[2 * kvDim] = bound;
            }

            float[] scales = new float[axis switch { 1 => kvDim, 2 => Tokens * layout.KvHeads, _ => Tokens }];
            for (int s = 0; s < scales.Length; s++)
            {
                scales[s] = 0.0137f * (1 + (s * 5 + j) % 11);
                if (scaleType == 2)
                    scales[s] = (float)(Half)scales[s]; // what binary16 holds, so that the payload stores exactly these scales
            }

            if (j == 3)
                scales[2] = 0f;
            payloads[j] = AnsPayloadBuilder.Build(kvDim, axis, scaleType, prediction, bound, lanes, groups, scales, q,
                startState: finalStateOffByOne && j == 0 ? (1u << 16) + 1 : 1u << 16);
        }

        return RecordEditor.Rebuild(record, payloads);
    }

    // Deterministic q in [-B, B]: a clipped random walk along tokens when prediction is on, noise otherwise.
    private static int[] Values(int section, int bound, int kvDim, bool walk)
    {
        var q = new int[Tokens * kvDim];
        ulong h = 0x51ED270B27A3F1C5UL + (ulong)section;
        for (int i = 0; i < q.Length; i++)
        {
            h ^= h << 13;
            h ^= h >> 7;
            h ^= h << 17;
            int r = (int)(h % (ulong)(2 * bound + 1)) - bound;
            q[i] = walk && i >= kvDim ? Math.Clamp(q[i - kvDim] + r / 2, -bound, bound) : r;
        }

        return q;
    }
}
