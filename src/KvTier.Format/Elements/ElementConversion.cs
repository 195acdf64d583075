using System.Buffers.Binary;
using System.Numerics.Tensors;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using KvTier.Layout;

namespace KvTier.Format.Elements;

/// <summary>
/// Conversions between binary32 and the KV element types, exactly as format-spec/kvtier-format.md §10 says:
/// widening is exact; narrowing rounds to nearest, ties to even.
/// </summary>
public static class ElementConversion
{
    /// <summary>Widens little-endian elements of <paramref name="type"/> to binary32 (exact).</summary>
    /// <exception cref="ArgumentException">The lengths do not match.</exception>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void ToSingle(KvElementType type, ReadOnlySpan<byte> source, Span<float> destination)
    {
        int size = SizeOf(type);
        if (source.Length != destination.Length * size)
            throw new ArgumentException($"{source.Length} bytes are not {destination.Length} elements of {size} bytes.", nameof(source));
        switch (type)
        {
            case KvElementType.Float32:
                for (int i = 0; i < destination.Length; i++)
                    destination[i] = BinaryPrimitives.ReadSingleLittleEndian(source[(4 * i)..]);
                break;
            case KvElementType.Float16 when BitConverter.IsLittleEndian:
                // SAFETY: reinterprets the caller's little-endian bytes as Half on a little-endian host; lengths checked above.
                TensorPrimitives.ConvertToSingle(MemoryMarshal.Cast<byte, Half>(source), destination);
                break;
            case KvElementType.Float16:
                for (int i = 0; i < destination.Length; i++)
                    destination[i] = (float)BinaryPrimitives.ReadHalfLittleEndian(source[(2 * i)..]);
                break;
            default:
                for (int i = 0; i < destination.Length; i++)
                    destination[i] = BitConverter.Int32BitsToSingle(BinaryPrimitives.ReadUInt16LittleEndian(source[(2 * i)..]) << 16);
                break;
        }
    }

    /// <summary>Narrows binary32 values to little-endian elements of <paramref name="type"/> (round to nearest even).</summary>
    /// <exception cref="ArgumentException">The lengths do not match.</exception>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void FromSingle(KvElementType type, ReadOnlySpan<float> source, Span<byte> destination)
    {
        int size = SizeOf(type);
        if (destination.Length != source.Length * size)
            throw new ArgumentException($"{destination.Length} bytes are not {source.Length} elements of {size} bytes.", nameof(destination));
        switch (type)
        {
            case KvElementType.Float32:
                for (int i = 0; i < source.Length; i++)
                    BinaryPrimitives.WriteSingleLittleEndian(destination[(4 * i)..], source[i]);
                break;
            case KvElementType.Float16 when BitConverter.IsLittleEndian:
                // SAFETY: as in ToSingle; the vectorized conversion rounds to nearest even like the (Half) cast.
                TensorPrimitives.ConvertToHalf(source, MemoryMarshal.Cast<byte, Half>(destination));
                break;
            case KvElementType.Float16:
                for (int i = 0; i < source.Length; i++)
                    BinaryPrimitives.WriteHalfLittleEndian(destination[(2 * i)..], (Half)source[i]);
                break;
            default:
                for (int i = 0; i < source.Length; i++)
                    BinaryPrimitives.WriteUInt16LittleEndian(destination[(2 * i)..], ToBFloat16(source[i]));
                break;
        }
    }

    /// <summary>Rounds binary32 values to what <paramref name="type"/> can hold, in place (narrow, then widen).</summary>
    public static void RoundTo(KvElementType type, Span<float> values)
    {
        switch (type)
        {
            case KvElementType.Float32:
                return;
            case KvElementType.Float16:
                RoundToHalf(values);
                return;
            default:
                for (int i = 0; i < values.Length; i++)
                    values[i] = BitConverter.Int32BitsToSingle(ToBFloat16(values[i]) << 16);
                return;
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)] // a hot loop from its first call (see AnsDecoder)
    private static void RoundToHalf(Span<float> values)
    {
        Span<Half> halves = stackalloc Half[256];
        for (int start = 0; start < values.Length; start += halves.Length)
        {
            Span<float> block = values.Slice(start, Math.Min(halves.Length, values.Length - start));
            TensorPrimitives.ConvertToHalf(block, halves[..block.Length]);
            TensorPrimitives.ConvertToSingle(halves[..block.Length], block);
        }
    }

    /// <summary>bfloat16 bits of a binary32 value, rounded to nearest even; NaN becomes the quiet NaN with the same sign (§10).</summary>
    public static ushort ToBFloat16(float value)
    {
        uint bits = BitConverter.SingleToUInt32Bits(value);
        if (float.IsNaN(value))
            return (ushort)((bits >> 16 & 0x8000) | 0x7FC0);
        bits += 0x7FFF + (bits >> 16 & 1);
        return (ushort)(bits >> 16);
    }

    /// <summary>Bytes per element of <paramref name="type"/>.</summary>
    public static int SizeOf(KvElementType type) => type == KvElementType.Float32 ? 4 : 2;
}
