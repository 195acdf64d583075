using System.Buffers.Binary;

namespace KvTier.Format.Tests.Codecs;

/// <summary>
/// Builds ans payloads field by field from chosen symbols and tables, with the rANS lane encoder written from the text
/// of format-spec/kvtier-format.md §9.5 (no code shared with src). Lets tests write payloads that KvTier's encoder would
/// never write, valid or not.
/// </summary>
internal sealed class AnsPayloadBuilder
{
    public int LayoutVersion { get; set; } = 1;

    public int ScaleAxis { get; set; } = 1;

    /// <summary>1: f32 scales; 2: f16 scales (each written as <c>(Half)scale</c>, so give values binary16 holds).</summary>
    public int ScaleType { get; set; } = 1;

    public int Prediction { get; set; }

    /// <summary>The reserved byte at offset 5 (0 in a valid payload).</summary>
    public int Reserved5 { get; set; }

    /// <summary>The reserved u16 at offset 10 (0 in a valid payload).</summary>
    public int Reserved10 { get; set; }

    public int Bound { get; set; } = 1;

    public int KvDim { get; set; } = 1;

    /// <summary>Scales as written (S of them).</summary>
    public float[] Scales { get; set; } = [1f];

    /// <summary>G tables of A frequencies each.</summary>
    public ushort[][] Tables { get; set; } = [];

    /// <summary>One symbol per element, row-major.</summary>
    public int[] Symbols { get; set; } = [];

    public int Lanes { get; set; } = 1;

    /// <summary>The state each lane's encoder starts from; §9.5 says 2^16, and a decoder checks that it ends there.</summary>
    public ulong InitialState { get; set; } = 1UL << 16;

    /// <summary>Each lane's final encoder state and its words in stream order, as §9.5 computes them.</summary>
    public (uint State, ushort[] Words)[] EncodeLanes()
    {
        int groups = Tables.Length;
        int segment = KvDim / groups;
        var lanes = new (uint, ushort[])[Lanes];
        for (int j = 0; j < Lanes; j++)
        {
            var laneSymbols = new List<(int Symbol, int Table)>();
            for (int i = j; i < Symbols.Length; i += Lanes)
                laneSymbols.Add((Symbols[i], i % KvDim / segment));

            // "rANS encoding of one lane runs over its symbols in reverse: x ← 2^16; for each symbol, if x ≥ freq[s]·2^20,
            // emit x mod 2^16 and set x ← x div 2^16; then x ← (x div freq[s])·4096 + (x mod freq[s]) + cum[s]. The
            // emitted words, reversed, are the lane's stream and the final x is its state."
            ulong x = InitialState;
            var emitted = new List<ushort>();
            for (int k = laneSymbols.Count - 1; k >= 0; k--)
            {
                (int s, int g) = laneSymbols[k];
                ulong freq = Tables[g][s];
                ulong cum = 0;
                for (int r = 0; r < s; r++)
                    cum += Tables[g][r];
                if (x >= freq << 20)
                {
                    emitted.Add((ushort)(x % 65536));
                    x /= 65536;
                }

                x = x / freq * 4096 + x % freq + cum;
            }

            emitted.Reverse();
            lanes[j] = ((uint)x, emitted.ToArray());
        }

        return lanes;
    }

    public byte[] Build() => Build(EncodeLanes());

    public byte[] Build((uint State, ushort[] Words)[] lanes)
    {
        var bytes = new List<byte>
        {
            (byte)LayoutVersion,
            (byte)ScaleAxis,
            (byte)ScaleType,
            (byte)Prediction,
            (byte)Bound,
            (byte)Reserved5,
        };
        AddU16(bytes, lanes.Length);
        AddU16(bytes, Tables.Length);
        AddU16(bytes, Reserved10);
        foreach (float scale in Scales)
        {
            if (ScaleType == 2)
                AddU16(bytes, BitConverter.HalfToUInt16Bits((Half)scale));
            else
                AddU32(bytes, BitConverter.SingleToUInt32Bits(scale));
        }
        foreach (ushort[] table in Tables)
        {
            foreach (ushort f in table)
                AddU16(bytes, f);
        }

        foreach ((uint state, ushort[] words) in lanes)
        {
            AddU32(bytes, state);
            AddU32(bytes, (uint)words.Length);
        }

        foreach ((_, ushort[] words) in lanes)
        {
            foreach (ushort w in words)
                AddU16(bytes, w);
        }

        return bytes.ToArray();
    }

    private static void AddU16(List<byte> bytes, int value)
    {
        Span<byte> buffer = stackalloc byte[2];
        BinaryPrimitives.WriteUInt16LittleEndian(buffer, (ushort)value);
        bytes.AddRange(buffer.ToArray());
    }

    private static void AddU32(List<byte> bytes, uint value)
    {
        Span<byte> buffer = stackalloc byte[4];
        BinaryPrimitives.WriteUInt32LittleEndian(buffer, value);
        bytes.AddRange(buffer.ToArray());
    }
}
