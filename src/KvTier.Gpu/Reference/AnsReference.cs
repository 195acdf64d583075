using KvTier.Gpu.Kernels;

namespace KvTier.Gpu.Reference;

/// <summary>
/// Scalar references for <see cref="AnsKernels"/> (format-spec/kvtier-format.md §9.2–§9.4), each the plain loop its
/// kernel runs per thread, run over every thread in turn.
/// </summary>
public static class AnsReference
{
    /// <summary>Every lane of <see cref="AnsKernels.DecodeLanes"/>, lane 0 first; false on a bitstream fault.</summary>
    public static bool DecodeLanes(ReadOnlySpan<int> cumulative, ReadOnlySpan<uint> laneStates, ReadOnlySpan<int> laneStarts, ReadOnlySpan<ushort> words, Span<int> values, AnsLaneShape shape)
    {
        bool valid = true;
        int row = shape.Alphabet + 1;
        for (int lane = 0; lane < shape.Lanes; lane++)
        {
            uint x = laneStates[lane];
            int p = laneStarts[lane];
            int end = laneStarts[lane + 1];
            bool laneValid = true;
            for (int i = lane; i < shape.Elements; i += shape.Lanes)
            {
                int table = i % shape.KvDim / shape.ChannelsPerTable * row;
                int slot = (int)(x & 0xFFF);
                int symbol = 0;
                while (cumulative[table + symbol + 1] <= slot) // linear search: a different route to the same symbol
                    symbol++;
                int start = cumulative[table + symbol];
                x = (uint)(cumulative[table + symbol + 1] - start) * (x >> 12) + (uint)(slot - start);
                if (x < 0x10000u)
                {
                    if (p >= end)
                    {
                        laneValid = false;
                        break;
                    }

                    x = (x << 16) | words[p++];
                }

                values[i] = (symbol & 1) == 0 ? symbol >> 1 : -((symbol + 1) >> 1);
            }

            valid &= laneValid && x == 0x10000u && p == end;
        }

        return valid;
    }

    /// <summary><see cref="AnsKernels.AccumulatePrediction"/> for every channel; false when a value leaves [−B, B].</summary>
    public static bool AccumulatePrediction(Span<int> values, AnsLaneShape shape)
    {
        bool valid = true;
        for (int c = 0; c < shape.KvDim; c++)
        {
            int q = 0;
            for (int i = c; i < shape.Elements; i += shape.KvDim)
            {
                q += values[i];
                values[i] = q;
                if (q < -shape.Bound || q > shape.Bound)
                {
                    valid = false;
                    break;
                }
            }
        }

        return valid;
    }

    /// <summary><see cref="AnsKernels.Dequantize"/> for every element.</summary>
    public static void Dequantize(ReadOnlySpan<int> quantized, ReadOnlySpan<float> scales, Span<float> output, AnsLaneShape shape)
    {
        for (int t = 0; t < shape.Elements / shape.KvDim; t++)
        {
            for (int c = 0; c < shape.KvDim; c++)
            {
                int s = shape.ScaleGroupWidth == 0 ? c : t * (shape.KvDim / shape.ScaleGroupWidth) + c / shape.ScaleGroupWidth;
                output[t * shape.KvDim + c] = quantized[t * shape.KvDim + c] * scales[s];
            }
        }
    }
}
