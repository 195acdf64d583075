using System.Buffers.Binary;

namespace KvTier.Format.Codecs;

/// <summary>
/// Codec 1, <c>q8</c> (format-spec/kvtier-format.md §8): one f32 scale per (token, head), then one signed byte
/// per element. Stateless and thread-safe.
/// </summary>
internal sealed class Q8Codec : ILossyCodec
{
    public static Q8Codec Instance { get; } = new();

    public CodecId Id => CodecId.Q8;

    public long MaxPayloadLength(in SectionContext context) => PayloadLength(context);

    public long MinPayloadLength(in SectionContext context) => PayloadLength(context);

    public byte[] Encode(in SectionContext context, ReadOnlySpan<float> values, int level)
    {
        int kvDim = context.Layout.KvDim;
        int headDim = context.Layout.HeadDim;
        int heads = context.Layout.KvHeads;
        CheckInput(context, values);
        int scaleBytes = 4 * context.TokenCount * heads;
        var payload = new byte[PayloadLength(context)];
        for (int t = 0; t < context.TokenCount; t++)
        {
            for (int h = 0; h < heads; h++)
            {
                ReadOnlySpan<float> group = values.Slice(t * kvDim + h * headDim, headDim);
                float absMax = 0;
                foreach (float x in group)
                    absMax = MathF.Max(absMax, MathF.Abs(x));
                float scale = absMax / 127f;
                BinaryPrimitives.WriteSingleLittleEndian(payload.AsSpan(4 * (t * heads + h)), scale);
                Span<byte> q = payload.AsSpan(scaleBytes + t * kvDim + h * headDim, headDim);
                for (int i = 0; i < headDim; i++)
                    q[i] = scale == 0 ? (byte)0 : (byte)(sbyte)Math.Clamp(MathF.Round(group[i] / scale), -127f, 127f);
            }
        }

        return payload;
    }

    public void Decode(in SectionContext context, ReadOnlySpan<byte> payload, Span<float> values)
    {
        int headDim = context.Layout.HeadDim;
        int heads = context.Layout.KvHeads;
        if (payload.Length != PayloadLength(context))
            throw context.BadPayload($"q8 payload is {payload.Length} bytes; the layout needs {PayloadLength(context)}.");
        if (values.Length != context.ElementCount)
            throw new ArgumentException($"Destination holds {values.Length} values; the section has {context.ElementCount}.", nameof(values));

        int scaleBytes = 4 * context.TokenCount * heads;
        for (int g = 0; g < context.TokenCount * heads; g++)
        {
            float scale = BinaryPrimitives.ReadSingleLittleEndian(payload[(4 * g)..]);
            if (!float.IsFinite(scale) || scale < 0)
                throw context.BadPayload($"scale {g} is {scale}; scales are finite and non-negative.", 4 * g);
            int start = g * headDim; // groups are (token, head) in row-major order, so group g covers elements [g·headDim, (g+1)·headDim)
            for (int i = 0; i < headDim; i++)
            {
                sbyte q = (sbyte)payload[scaleBytes + start + i];
                if (q == sbyte.MinValue)
                    throw context.BadPayload("a quantized value is -128; q8 values lie in [-127, 127].", scaleBytes + start + i);
                values[start + i] = q * scale;
            }
        }
    }

    private static long PayloadLength(in SectionContext context) =>
        4L * context.TokenCount * context.Layout.KvHeads + (long)context.TokenCount * context.Layout.KvDim;

    private static void CheckInput(in SectionContext context, ReadOnlySpan<float> values)
    {
        if (values.Length != context.ElementCount)
            throw new ArgumentException($"The section has {context.ElementCount} values; got {values.Length}.", nameof(values));
        for (int i = 0; i < values.Length; i++)
        {
            if (!float.IsFinite(values[i]))
                throw new ArgumentException($"Element {i} of layer {context.Layer} {context.Kind} is {values[i]}; lossy codecs need finite values.", nameof(values));
        }
    }
}
