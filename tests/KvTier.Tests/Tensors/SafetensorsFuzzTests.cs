using System.Buffers.Binary;
using System.Text;
using KvTier.Tensors;
using Xunit;

namespace KvTier.Tests.Tensors;

/// <summary>
/// Deterministic mutation fuzzing of <see cref="SafetensorsFile.Parse(byte[], string?)"/>: every mutated
/// input must either parse (and then read back consistently) or be rejected with
/// <see cref="SafetensorsFormatException"/>; any other exception is a bug. The coverage-guided
/// counterpart, run by hand, is fuzz/ (SharpFuzz + AFL++).
/// </summary>
public sealed class SafetensorsFuzzTests
{
    private const int Seed = 0x5AFE_7E45;
    private const int Iterations = 6000;

    private static readonly string[] JsonInsertions =
    [
        "{", "}", "[", "]", "\"", ":", ",", " ", "\\", "-", "0", "1", "9", ".", "e", "null", "true",
        "\"__metadata__\"", "\"dtype\"", "\"shape\"", "\"data_offsets\"", "\"F32\"", "\"F16\"", "\"BF16\"", "\"I64\"", "\"U8\"", "\"F4\"",
        "18446744073709551615", "18446744073709551616", "4294967296", "-1", "1.5", "1e3", "\\ud800", "\\u0000", "\u00e9", "\U0001F600",
    ];

    private static readonly string[] Numbers =
        ["0", "1", "2", "3", "4", "8", "12", "16", "-1", "-0", "1.0", "1e2", "65536", "4294967296", "9223372036854775807", "9223372036854775808", "18446744073709551615", "18446744073709551616", "[]", "\"4\"", "null"];

    private static List<byte[]> SeedFiles()
    {
        var seeds = new List<byte[]>();

        var w = new SafetensorsWriter();
        w.AddFloat32("weight", [1f, -0f, float.NaN, 3.5f, 1e-40f, float.PositiveInfinity], 2, 3);
        w.AddInt32("ids", [1, 2, 3], 3);
        seeds.Add(w.ToArray());

        w = new SafetensorsWriter();
        w.AddMetadata("format", "kvtier");
        w.AddMetadata("model", "llama-\u00e9");
        w.AddBFloat16Bits("k", [0x3F80, 0x4000, 0xC040, 0x7FC1], 1, 2, 2);
        w.AddFloat16Bits("v", [0x3C00, 0x0001], 2);
        w.AddFloat32("scalar", [7f]);
        w.AddFloat32("empty", [], 0, 3);
        w.AddInt64("pos", [long.MinValue, 0, long.MaxValue], 3);
        seeds.Add(w.ToArray());

        seeds.Add(new SafetensorsWriter().ToArray());

        // Hand-assembled: tensors out of order, unpadded header, null metadata.
        seeds.Add(SafetensorsTestFiles.Build(
            "{\"__metadata__\":null,\"b\":{\"dtype\":\"U8\",\"shape\":[2],\"data_offsets\":[4,6]},\"a\":{\"dtype\":\"I16\",\"shape\":[2],\"data_offsets\":[0,4]}}",
            [1, 2, 3, 4, 5, 6], pad: false));
        return seeds;
    }

    [Fact]
    public void MutatedFilesParseOrFailWithTheTypedErrorOnly()
    {
        // CI runs the fixed seed; KVTIER_FUZZ_SEED / KVTIER_FUZZ_ITERATIONS allow longer local runs.
        int randomSeed = int.TryParse(Environment.GetEnvironmentVariable("KVTIER_FUZZ_SEED"), out int s) ? s : Seed;
        int iterations = int.TryParse(Environment.GetEnvironmentVariable("KVTIER_FUZZ_ITERATIONS"), out int n) ? n : Iterations;
        var random = new Random(randomSeed);
        List<byte[]> seeds = SeedFiles();
        foreach (byte[] seed in seeds)
            AssertParsesOrRejects(seed, "seed", -1, out bool ok);

        int accepted = 0, rejected = 0;
        for (int i = 0; i < iterations; i++)
        {
            byte[] input = seeds[random.Next(seeds.Count)];
            string mutation = "";
            int rounds = 1 + random.Next(3);
            for (int r = 0; r < rounds; r++)
            {
                (input, string name) = Mutate(input, seeds, random);
                mutation += name + " ";
            }
            AssertParsesOrRejects(input, mutation, i, out bool parsed);
            if (parsed)
                accepted++;
            else
                rejected++;
        }

        // The loop must reach both outcomes, or it is testing nothing interesting.
        Assert.True(accepted > iterations / 100, $"only {accepted} of {iterations} mutants parsed");
        Assert.True(rejected > iterations / 2, $"only {rejected} of {iterations} mutants were rejected");
    }

    private static void AssertParsesOrRejects(byte[] input, string mutation, int iteration, out bool parsed)
    {
        parsed = false;
        try
        {
            SafetensorsFile file = SafetensorsFile.Parse(input, "mutant");
            ExerciseAccessors(file);
            parsed = true;
        }
        catch (SafetensorsFormatException ex)
        {
            Assert.Equal("mutant", ex.SourceName);
            Assert.InRange(ex.Offset, -1, input.Length);
        }
        catch (Exception ex)
        {
            Assert.Fail($"Iteration {iteration} ({mutation.Trim()}): {ex.GetType().Name}: {ex.Message}\ninput (base64): {Convert.ToBase64String(input)}\n{ex}");
        }
    }

    /// <summary>Every accessor of an accepted file must work and agree with the validated layout.</summary>
    private static void ExerciseAccessors(SafetensorsFile file)
    {
        long total = 0;
        foreach (SafetensorsTensorInfo t in file.Tensors)
        {
            Assert.Equal(t.ByteLength, file.GetBytes(t.Name).Length);
            Assert.Equal(t.ElementCount * SafetensorsDTypes.GetElementSize(t.DType), t.ByteLength);
            total += t.ByteLength;
            switch (t.DType)
            {
                case SafetensorsDType.F32:
                    Assert.Equal(t.ElementCount, file.GetFloat32(t.Name).Length);
                    Assert.Equal(t.ElementCount, file.ToFloat32Array(t.Name).Length);
                    break;
                case SafetensorsDType.I32:
                    Assert.Equal(t.ElementCount, file.GetInt32(t.Name).Length);
                    break;
                case SafetensorsDType.I64:
                    Assert.Equal(t.ElementCount, file.GetInt64(t.Name).Length);
                    break;
                case SafetensorsDType.F16:
                    Assert.Equal(t.ElementCount, file.GetFloat16Bits(t.Name).Length);
                    break;
                case SafetensorsDType.BF16:
                    Assert.Equal(t.ElementCount, file.GetBFloat16Bits(t.Name).Length);
                    break;
            }
        }
        Assert.Equal(file.DataLength, total);
        foreach (KeyValuePair<string, string> entry in file.Metadata)
            Assert.NotNull(entry.Value);
    }

    private static (byte[] Input, string Mutation) Mutate(byte[] input, List<byte[]> seeds, Random random)
    {
        switch (random.Next(7))
        {
            case 0:
                return (FlipBytes(input, random), "flip");
            case 1:
                return (input[..random.Next(input.Length + 1)], "truncate");
            case 2:
                return (RewriteHeaderLength(input, random), "header-length");
            case 3:
                return (EditHeader(input, random, InsertText), "json-insert");
            case 4:
                return (EditHeader(input, random, DeleteText), "json-delete");
            case 5:
                return (EditHeader(input, random, ReplaceNumber), "json-number");
            default:
                byte[] other = seeds[random.Next(seeds.Count)];
                return ([.. input.AsSpan(0, random.Next(input.Length + 1)), .. other.AsSpan(random.Next(other.Length + 1))], "splice");
        }
    }

    private static byte[] FlipBytes(byte[] input, Random random)
    {
        if (input.Length == 0)
            return [(byte)random.Next(256)];
        byte[] copy = (byte[])input.Clone();
        int flips = 1 + random.Next(4);
        for (int i = 0; i < flips; i++)
        {
            int at = random.Next(copy.Length);
            copy[at] = random.Next(2) == 0 ? (byte)(copy[at] ^ (1 << random.Next(8))) : (byte)random.Next(256);
        }
        return copy;
    }

    private static byte[] RewriteHeaderLength(byte[] input, Random random)
    {
        byte[] copy = input.Length >= 8 ? (byte[])input.Clone() : [.. input, .. new byte[8 - input.Length]];
        ulong current = BinaryPrimitives.ReadUInt64LittleEndian(copy);
        ulong value = random.Next(6) switch
        {
            0 => current + (ulong)random.Next(1, 17),
            1 => current - (ulong)random.Next(1, 17),
            2 => (ulong)(copy.Length - 8 + random.Next(-2, 3)),
            3 => SafetensorsFile.MaxHeaderSize + (ulong)random.Next(-1, 2),
            4 => ulong.MaxValue - (ulong)random.Next(3),
            _ => (ulong)random.NextInt64() ^ ((ulong)random.NextInt64() << 1),
        };
        BinaryPrimitives.WriteUInt64LittleEndian(copy, value);
        return copy;
    }

    /// <summary>Applies a text edit to the header and rebuilds the file with a matching size prefix (padded or not) and the original data.</summary>
    private static byte[] EditHeader(byte[] input, Random random, Func<string, Random, string> edit)
    {
        if (input.Length < 8)
            return input;
        ulong n = BinaryPrimitives.ReadUInt64LittleEndian(input);
        if (n > (ulong)(input.Length - 8))
            return input;
        string header = Encoding.UTF8.GetString(input, 8, (int)n).TrimEnd(' ');
        byte[] data = input[(8 + (int)n)..];
        if (random.Next(4) == 0)
            data = data[..random.Next(data.Length + 1)];
        return SafetensorsTestFiles.Build(edit(header, random), data, pad: random.Next(2) == 0);
    }

    private static string InsertText(string header, Random random) =>
        header.Insert(random.Next(header.Length + 1), JsonInsertions[random.Next(JsonInsertions.Length)]);

    private static string DeleteText(string header, Random random)
    {
        if (header.Length == 0)
            return header;
        int at = random.Next(header.Length);
        return header.Remove(at, Math.Min(1 + random.Next(4), header.Length - at));
    }

    /// <summary>Replaces one run of digits (a shape dimension or an offset) with an interesting number or a wrong token.</summary>
    private static string ReplaceNumber(string header, Random random)
    {
        var runs = new List<(int Start, int Length)>();
        for (int i = 0; i < header.Length;)
        {
            if (!char.IsAsciiDigit(header[i]))
            {
                i++;
                continue;
            }
            int start = i;
            while (i < header.Length && char.IsAsciiDigit(header[i]))
                i++;
            runs.Add((start, i - start));
        }
        if (runs.Count == 0)
            return header;
        (int s, int len) = runs[random.Next(runs.Count)];
        return string.Concat(header.AsSpan(0, s), Numbers[random.Next(Numbers.Length)], header.AsSpan(s + len));
    }
}
