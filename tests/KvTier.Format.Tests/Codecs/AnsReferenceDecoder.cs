using System.Buffers.Binary;
using KvTier.Layout;

namespace KvTier.Format.Tests.Codecs;

/// <summary>A payload that breaks a rule of format-spec/kvtier-format.md §9, as the reference decoder sees it.</summary>
internal sealed class InvalidAnsPayloadException(string message) : Exception(message);

/// <summary>
/// A plain decoder of codec <c>ans</c> written from the text of format-spec/kvtier-format.md §9.1–§9.4 alone, sharing no
/// code with src: lanes one after another (not interleaved), a linear search for each symbol, 64-bit arithmetic.
/// The fast decoder must agree with it bit for bit on every valid payload and reject exactly what it rejects.
/// </summary>
internal static class AnsReferenceDecoder
{
    public static float[] Decode(KvLayout layout, int tokenCount, byte[] payload)
    {
        int kvDim = layout.KvHeads * layout.HeadDim;
        long n = (long)tokenCount * kvDim;
        int at = 0;

        // §9.1 fields, each checked as the table says.
        int layoutVersion = U8(payload, ref at);
        Require(layoutVersion == 1, "layout_version MUST be 1");
        int scaleAxis = U8(payload, ref at);
        Require(scaleAxis is 1 or 2 or 3, "scale_axis is 1, 2 or 3");
        int scaleType = U8(payload, ref at);
        Require(scaleType is 1 or 2, "scale_type is 1 (f32) or 2 (f16)");
        int prediction = U8(payload, ref at);
        Require(prediction is 0 or 1, "prediction is 0 or 1");
        int bound = U8(payload, ref at);
        Require(bound >= 1 && bound <= (prediction == 0 ? 127 : 63), "1 ≤ B ≤ 127 with prediction 0, 1 ≤ B ≤ 63 with prediction 1");
        Require(U8(payload, ref at) == 0, "reserved byte 5 MUST be 0");
        int laneCount = U16(payload, ref at);
        Require(laneCount is >= 1 and <= 1024, "1 ≤ N ≤ 1024");
        int groups = U16(payload, ref at);
        Require(groups >= 1 && groups <= kvDim && kvDim % groups == 0, "1 ≤ G ≤ kv_dim, kv_dim mod G = 0");
        Require(U16(payload, ref at) == 0, "reserved bytes 10-11 MUST be 0");

        long scaleCount = scaleAxis switch
        {
            1 => kvDim,
            2 => (long)tokenCount * layout.KvHeads,
            _ => tokenCount,
        };
        var scales = new float[scaleCount];
        for (long k = 0; k < scaleCount; k++)
        {
            if (scaleType == 1)
            {
                scales[k] = BitConverter.Int32BitsToSingle((int)U32(payload, ref at));
                Require(float.IsFinite(scales[k]) && scales[k] >= 0, "f32 scales finite and ≥ 0");
            }
            else
            {
                int bits = U16(payload, ref at);
                Require((bits & 0x7C00) != 0x7C00, "f16 scales finite");
                Require((bits & 0x8000) == 0 || bits == 0x8000, "f16 scales ≥ 0 (−0 allowed)");
                scales[k] = WidenBinary16(bits);
            }
        }

        int alphabet = prediction == 0 ? 2 * bound + 1 : 4 * bound + 1;
        var freq = new int[groups, alphabet];
        for (int g = 0; g < groups; g++)
        {
            int sum = 0;
            for (int s = 0; s < alphabet; s++)
            {
                freq[g, s] = U16(payload, ref at);
                sum += freq[g, s];
            }

            Require(sum == 4096, "each table sums to exactly 4096");
        }

        var laneState = new ulong[laneCount];
        var wordCount = new long[laneCount];
        for (int j = 0; j < laneCount; j++)
        {
            laneState[j] = U32(payload, ref at);
            wordCount[j] = U32(payload, ref at);
            Require(laneState[j] >= 1UL << 16 && laneState[j] < 1UL << 32, "lane state in [2^16, 2^32)");
        }

        var laneWords = new ushort[laneCount][];
        for (int j = 0; j < laneCount; j++)
        {
            Require(wordCount[j] <= (payload.Length - at) / 2, "the payload holds the lane's words");
            laneWords[j] = new ushort[wordCount[j]];
            for (long p = 0; p < wordCount[j]; p++)
                laneWords[j][p] = (ushort)U16(payload, ref at);
        }

        Require(at == payload.Length, "the payload ends exactly after the lane streams");

        // §9.2: each lane on its own, symbols in increasing order.
        var symbol = new int[n];
        int segment = kvDim / groups;
        for (int j = 0; j < laneCount; j++)
        {
            ulong x = laneState[j];
            long p = 0;
            for (long i = j; i < n; i += laneCount)
            {
                int g = (int)(i % kvDim) / segment;
                ulong slot = x % 4096;
                int s = 0;
                ulong cum = 0;
                while (!(cum <= slot && slot < cum + (ulong)freq[g, s]))
                {
                    cum += (ulong)freq[g, s];
                    s++;
                }

                x = (ulong)freq[g, s] * (x / 4096) + slot - cum;
                if (x < 1UL << 16)
                {
                    Require(p != wordCount[j], "a refill past word_count");
                    x = x * 65536 + laneWords[j][p];
                    p++;
                }

                symbol[i] = s;
            }

            Require(x == 1UL << 16, "final state MUST equal 2^16");
            Require(p == wordCount[j], "every word MUST be consumed");
        }

        // §9.2 zigzag, §9.3 prediction, §9.4 dequantization.
        var values = new float[n];
        var q = new long[n];
        for (long i = 0; i < n; i++)
        {
            long t = i / kvDim;
            long c = i % kvDim;
            int s = symbol[i];
            long v = s % 2 == 0 ? s / 2 : -(s + 1) / 2;
            q[i] = prediction == 1 && t > 0 ? q[i - kvDim] + v : v;
            Require(q[i] >= -bound && q[i] <= bound, "every q lies in [-B, B]");
            float scale = scaleAxis switch
            {
                1 => scales[c],
                2 => scales[t * layout.KvHeads + c / layout.HeadDim],
                _ => scales[t],
            };
            values[i] = (float)q[i] * scale;
        }

        return values;
    }

    /// <summary>
    /// An IEEE binary16 (finite here) as binary32, from its definition: sign, 5 exponent bits biased by 15, 10 fraction
    /// bits; subnormals are fraction·2^−24. The product is exact in binary64 and representable in binary32, so the casts
    /// round nothing.
    /// </summary>
    private static float WidenBinary16(int bits)
    {
        int sign = bits >> 15;
        int exponent = (bits >> 10) & 0x1F;
        int fraction = bits & 0x3FF;
        double magnitude = exponent == 0 ? fraction * Math.Pow(2, -24) : (1024 + fraction) * Math.Pow(2, exponent - 25);
        return (float)(sign == 1 ? -magnitude : magnitude);
    }

    private static void Require(bool condition, string rule)
    {
        if (!condition)
            throw new InvalidAnsPayloadException(rule);
    }

    private static int U8(byte[] payload, ref int at)
    {
        Require(at + 1 <= payload.Length, "the payload is long enough for its fields");
        return payload[at++];
    }

    private static int U16(byte[] payload, ref int at)
    {
        Require(at + 2 <= payload.Length, "the payload is long enough for its fields");
        int value = BinaryPrimitives.ReadUInt16LittleEndian(payload.AsSpan(at));
        at += 2;
        return value;
    }

    private static uint U32(byte[] payload, ref int at)
    {
        Require(at + 4 <= payload.Length, "the payload is long enough for its fields");
        uint value = BinaryPrimitives.ReadUInt32LittleEndian(payload.AsSpan(at));
        at += 4;
        return value;
    }
}
