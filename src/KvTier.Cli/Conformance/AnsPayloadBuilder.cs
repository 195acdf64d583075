using System.Buffers.Binary;

namespace KvTier.Cli.Conformance;

/// <summary>
/// Writes <c>ans</c> payloads (format-spec/kvtier-format.md §9) from chosen fields and quantized values, following
/// the spec's text alone — independently of the library's encoder — so that the vectors can hold payloads that
/// KvTier's encoder never writes (any lane count, several tables, a chosen prediction) and payloads broken in one
/// precise way (a lane that does not end in state 2^16, a prediction that leaves [−B, B]).
/// </summary>
/// <remarks>Immutable inputs in, new bytes out; safe to call from any thread.</remarks>
internal static class AnsPayloadBuilder
{
    private const uint StateLow = 1u << 16;
    private const int Scale = 4096;

    /// <summary>An ans payload.</summary>
    /// <param name="kvDim">KV width of the layout.</param>
    /// <param name="scaleAxis">1 (per channel), 2 (per token and head) or 3 (per token).</param>
    /// <param name="scaleType">1 (f32) or 2 (f16: each scale is written as the nearest binary16, so give values it holds).</param>
    /// <param name="prediction">0, or 1 to code each row as its difference from the row before (§9.3).</param>
    /// <param name="bound">B: every q lies in [−B, B] (unless a test wants otherwise).</param>
    /// <param name="lanes">N.</param>
    /// <param name="groups">G, dividing <paramref name="kvDim"/>.</param>
    /// <param name="scales">The S scales (S = kv_dim, token_count·kv_heads or token_count by the axis).</param>
    /// <param name="q">The quantized values, row-major; with prediction 1 the coded values are their row differences.</param>
    /// <param name="startState">The state each lane's encoding starts from (2^16 in a valid payload; the decoder must end there).</param>
    public static byte[] Build(int kvDim, byte scaleAxis, byte scaleType, byte prediction, int bound, int lanes, int groups, ReadOnlySpan<float> scales, ReadOnlySpan<int> q, uint startState = StateLow)
    {
        int n = q.Length;
        int alphabet = prediction == 0 ? 2 * bound + 1 : 4 * bound + 1;
        int channelsPerGroup = kvDim / groups;

        // The coded symbol of every element (§9.2, §9.3).
        var symbols = new int[n];
        for (int i = 0; i < n; i++)
        {
            int v = prediction == 1 && i >= kvDim ? q[i] - q[i - kvDim] : q[i];
            symbols[i] = v >= 0 ? 2 * v : -2 * v - 1;
        }

        // One frequency table per group, from the symbol counts (the rule of §9.5).
        var freq = new int[groups][];
        var cum = new int[groups][];
        for (int g = 0; g < groups; g++)
        {
            var counts = new long[alphabet];
            long total = 0;
            for (int i = 0; i < n; i++)
            {
                if ((i % kvDim) / channelsPerGroup == g)
                {
                    counts[symbols[i]]++;
                    total++;
                }
            }

            freq[g] = Normalize(counts, total);
            cum[g] = new int[alphabet + 1];
            for (int s = 0; s < alphabet; s++)
                cum[g][s + 1] = cum[g][s] + freq[g][s];
        }

        // Each lane encodes its symbols in reverse; its words, reversed, are its stream.
        var states = new uint[lanes];
        var streams = new List<ushort>[lanes];
        for (int lane = 0; lane < lanes; lane++)
        {
            var words = new List<ushort>();
            ulong x = startState;
            int count = lane < n ? (n - lane + lanes - 1) / lanes : 0;
            for (int k = count - 1; k >= 0; k--)
            {
                int i = lane + k * lanes;
                int g = (i % kvDim) / channelsPerGroup;
                int s = symbols[i];
                ulong f = (ulong)freq[g][s];
                if (x >= f << 20)
                {
                    words.Add((ushort)x);
                    x >>= 16;
                }

                x = x / f * Scale + x % f + (ulong)cum[g][s];
            }

            words.Reverse();
            streams[lane] = words;
            states[lane] = (uint)x;
        }

        // §9.1: a 12-byte header (reserved bytes 5, 10 and 11 left 0), then the scales of scale_type.
        int wordCount = streams.Sum(w => w.Count);
        int scaleSize = scaleType == 2 ? 2 : 4;
        var payload = new byte[12 + scaleSize * scales.Length + 2 * alphabet * groups + 8 * lanes + 2 * wordCount];
        payload[0] = 1;
        payload[1] = scaleAxis;
        payload[2] = scaleType;
        payload[3] = prediction;
        payload[4] = (byte)bound;
        BinaryPrimitives.WriteUInt16LittleEndian(payload.AsSpan(6), (ushort)lanes);
        BinaryPrimitives.WriteUInt16LittleEndian(payload.AsSpan(8), (ushort)groups);
        int at = 12;
        foreach (float scale in scales)
        {
            if (scaleType == 2)
                BinaryPrimitives.WriteHalfLittleEndian(payload.AsSpan(at), (Half)scale);
            else
                BinaryPrimitives.WriteSingleLittleEndian(payload.AsSpan(at), scale);
            at += scaleSize;
        }

        foreach (int[] table in freq)
        {
            foreach (int f in table)
            {
                BinaryPrimitives.WriteUInt16LittleEndian(payload.AsSpan(at), (ushort)f);
                at += 2;
            }
        }

        for (int lane = 0; lane < lanes; lane++)
        {
            BinaryPrimitives.WriteUInt32LittleEndian(payload.AsSpan(at), states[lane]);
            BinaryPrimitives.WriteUInt32LittleEndian(payload.AsSpan(at + 4), (uint)streams[lane].Count);
            at += 8;
        }

        foreach (List<ushort> stream in streams)
        {
            foreach (ushort word in stream)
            {
                BinaryPrimitives.WriteUInt16LittleEndian(payload.AsSpan(at), word);
                at += 2;
            }
        }

        return payload;
    }

    // §9.5: a used symbol gets max(1, floor(count·4096 / total)); the difference to 4096 goes to (or comes from,
    // never below 1) the most frequent symbol, the lowest on ties. An unused table (no elements) gives all of 4096
    // to symbol 0.
    private static int[] Normalize(long[] counts, long total)
    {
        var freq = new int[counts.Length];
        if (total == 0)
        {
            freq[0] = Scale;
            return freq;
        }

        int sum = 0;
        int top = 0;
        for (int s = 0; s < counts.Length; s++)
        {
            if (counts[s] > 0)
                freq[s] = (int)Math.Max(1, counts[s] * Scale / total);
            sum += freq[s];
            if (counts[s] > counts[top])
                top = s;
        }

        int diff = Scale - sum;
        while (diff < 0)
        {
            // Take from the most frequent symbol first, then from the next largest, never below 1.
            int from = top;
            if (freq[from] <= 1)
                from = Array.IndexOf(freq, freq.Max());
            int take = Math.Min(-diff, freq[from] - 1);
            freq[from] -= take;
            diff += take;
        }

        freq[top] += diff;
        return freq;
    }
}
