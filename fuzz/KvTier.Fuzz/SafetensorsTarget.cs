using KvTier.Tensors;

namespace KvTier.Fuzz;

/// <summary>Fuzzes <see cref="SafetensorsFile.Parse(byte[], string?)"/> and, when a file is accepted, every accessor.</summary>
internal static class SafetensorsTarget
{
    public static readonly FuzzTarget Target = new(Run, Seeds);

    private static void Run(byte[] input)
    {
        SafetensorsFile file;
        try
        {
            file = SafetensorsFile.Parse(input, "fuzz-input");
        }
        catch (KvTierFormatException)
        {
            return; // the expected outcome for bad input
        }

        // Accepted: the validated layout must hold and every accessor must work without throwing.
        long total = 0;
        foreach (SafetensorsTensorInfo t in file.Tensors)
        {
            total += file.GetBytes(t.Name).Length;
            switch (t.DType)
            {
                case SafetensorsDType.F32:
                    ExpectElements(t, file.GetFloat32(t.Name).Length);
                    ExpectElements(t, file.ToFloat32Array(t.Name).Length);
                    break;
                case SafetensorsDType.I32:
                    ExpectElements(t, file.GetInt32(t.Name).Length);
                    ExpectElements(t, file.ToInt32Array(t.Name).Length);
                    break;
                case SafetensorsDType.I64:
                    ExpectElements(t, file.GetInt64(t.Name).Length);
                    break;
                case SafetensorsDType.F16:
                    ExpectElements(t, file.GetFloat16Bits(t.Name).Length);
                    break;
                case SafetensorsDType.BF16:
                    ExpectElements(t, file.GetBFloat16Bits(t.Name).Length);
                    break;
            }
        }
        if (total != file.DataLength)
            throw new InvalidOperationException($"Accepted tensors cover {total} of {file.DataLength} data bytes.");
    }

    private static void ExpectElements(SafetensorsTensorInfo t, long elements)
    {
        if (elements != t.ElementCount)
            throw new InvalidOperationException($"Tensor '{t.Name}': accessor returned {elements} elements, header says {t.ElementCount}.");
    }

    private static IEnumerable<(string, byte[])> Seeds()
    {
        var small = new SafetensorsWriter();
        small.AddFloat32("weight", [1f, -0f, float.NaN, 3.5f, 1e-40f, float.PositiveInfinity], 2, 3);
        small.AddInt32("ids", [1, 2, 3], 3);
        yield return ("f32-i32.bin", small.ToArray());

        var mixed = new SafetensorsWriter();
        mixed.AddMetadata("format", "kvtier");
        mixed.AddMetadata("model", "llama-\u00e9");
        mixed.AddBFloat16Bits("k", [0x3F80, 0x4000, 0xC040, 0x7FC1], 1, 2, 2);
        mixed.AddFloat16Bits("v", [0x3C00, 0x0001], 2);
        mixed.AddFloat32("scalar", [7f]);
        mixed.AddFloat32("empty", [], 0, 3);
        mixed.AddInt64("pos", [long.MinValue, 0, long.MaxValue], 3);
        mixed.AddRaw("mask", SafetensorsDType.Bool, [1, 0, 1], 3);
        yield return ("metadata-mixed.bin", mixed.ToArray());

        yield return ("empty.bin", new SafetensorsWriter().ToArray());
    }
}
