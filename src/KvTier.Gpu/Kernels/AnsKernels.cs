using ILGPU;

namespace KvTier.Gpu.Kernels;

/// <summary>
/// Codec 2, <c>ans</c> (format-spec/kvtier-format.md §9), on the device, in three launches that follow the data
/// dependencies:
/// <list type="number">
/// <item><see cref="DecodeLanes"/>: one thread per rANS lane (§9.2). Lanes are independent by construction; within a
/// lane each symbol needs the state the previous one left.</item>
/// <item><see cref="AccumulatePrediction"/> (prediction 1 only, §9.3): one thread per channel, a running sum down the
/// tokens; channels are independent, tokens are not.</item>
/// <item><see cref="Dequantize"/> (§9.4): one thread per element.</item>
/// </list>
/// Any fault the CPU decoder rejects as <c>BadPayload</c> after the layout check (a lane reading past its stream, a lane
/// not ending in state 2^16 with its stream consumed, a predicted value outside [−B, B]) sets <c>fault[0]</c>;
/// the host then lets the CPU decoder name it. The payload's layout (§9.1: fields, scales, table sums, lane headers,
/// length) is validated on the host before any launch. Scalar reference: <see cref="Reference.AnsReference"/>.
/// </summary>
public static class AnsKernels
{
    /// <summary>
    /// Decodes lane <c>j</c>: its symbols are the elements <c>i = j, j + N, j + 2N, …</c>, each through table
    /// <c>(i mod kv_dim) div (kv_dim / G)</c>, found by binary search over the table's cumulative frequencies
    /// (<paramref name="cumulative"/>: G rows of A + 1 entries, row g = <c>cum[0..A]</c>, <c>cum[A] = 4096</c>). Writes
    /// the zigzag value of each symbol to <paramref name="values"/>.
    /// </summary>
    /// <param name="lane">The lane (one thread each).</param>
    /// <param name="cumulative">G·(A + 1) cumulative frequencies.</param>
    /// <param name="laneStates">Each lane's initial state.</param>
    /// <param name="laneStarts">N + 1 entries: lane j's words are <c>words[laneStarts[j] .. laneStarts[j + 1])</c>.</param>
    /// <param name="words">Every lane's 16-bit words, lane 0 first.</param>
    /// <param name="values">n zigzag values, row-major.</param>
    /// <param name="fault">Element 0 set to 1 on a bitstream fault.</param>
    /// <param name="shape">The section's dimensions.</param>
    public static void DecodeLanes(Index1D lane, ArrayView<int> cumulative, ArrayView<uint> laneStates, ArrayView<int> laneStarts, ArrayView<ushort> words, ArrayView<int> values, ArrayView<int> fault, AnsLaneShape shape)
    {
        if (lane >= shape.Lanes || lane >= laneStates.Length || lane + 1 >= laneStarts.Length)
            return;
        uint x = laneStates[lane];
        int p = laneStarts[lane];
        int end = laneStarts[lane + 1];
        int row = shape.Alphabet + 1;
        for (int i = lane; i < shape.Elements; i += shape.Lanes)
        {
            int c = i % shape.KvDim;
            int table = c / shape.ChannelsPerTable * row;
            int slot = (int)(x & 0xFFF);
            int low = 0, high = shape.Alphabet; // cum[low] ≤ slot < cum[high]
            while (high - low > 1)
            {
                int middle = (low + high) >> 1;
                if (cumulative[table + middle] <= slot)
                    low = middle;
                else
                    high = middle;
            }

            int start = cumulative[table + low];
            x = (uint)(cumulative[table + low + 1] - start) * (x >> 12) + (uint)(slot - start);
            if (x < 0x10000u)
            {
                if (p >= end)
                {
                    fault[0] = 1;
                    return;
                }

                x = (x << 16) | words[p];
                p++;
            }

            values[i] = (low & 1) == 0 ? low >> 1 : -((low + 1) >> 1);
        }

        if (x != 0x10000u || p != end)
            fault[0] = 1;
    }

    /// <summary>
    /// Prediction 1 (§9.3) for channel <c>c</c>: <c>q[t,c] = q[t−1,c] + v[t,c]</c> in place, stopping with a fault at
    /// the first value outside [−B, B].
    /// </summary>
    public static void AccumulatePrediction(Index1D channel, ArrayView<int> values, ArrayView<int> fault, AnsLaneShape shape)
    {
        if (channel >= shape.KvDim)
            return;
        int q = 0;
        for (int i = channel; i < shape.Elements && i < values.Length; i += shape.KvDim)
        {
            q += values[i];
            values[i] = q;
            if ((uint)(q + shape.Bound) > (uint)(2 * shape.Bound))
            {
                fault[0] = 1;
                return;
            }
        }
    }

    /// <summary>
    /// Dequantization (§9.4): <c>x[t,c] = f32(q[t,c]) × scale</c>, one binary32 multiplication, with
    /// <c>scale = scales[c]</c> (one scale per channel, W = 0) or <c>scales[t·(kv_dim / W) + c div W]</c>.
    /// </summary>
    public static void Dequantize(Index1D index, ArrayView<int> quantized, ArrayView<float> scales, ArrayView<float> output, AnsLaneShape shape)
    {
        if (index >= shape.Elements || index >= output.Length || index >= quantized.Length)
            return;
        int t = index / shape.KvDim;
        int c = index - t * shape.KvDim;
        long s = shape.ScaleGroupWidth == 0 ? c : (long)t * (shape.KvDim / shape.ScaleGroupWidth) + c / shape.ScaleGroupWidth;
        if (s >= scales.Length)
            return;
        output[index] = quantized[index] * scales[s];
    }
}
