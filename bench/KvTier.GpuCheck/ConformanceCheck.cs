using System.Buffers.Binary;
using System.Diagnostics;
using System.Security.Cryptography;
using System.Text.Json;
using System.Text.Json.Nodes;
using KvTier.Format;

namespace KvTier.GpuCheck;

/// <summary>
/// The conformance vectors (format-spec/vectors/manifest.json) through <see cref="Gpu.GpuSectionDecoder"/>, as
/// tests/KvTier.Gpu.Tests/Conformance does: every valid vector's sections equal the CPU decoder's bit for bit and hash to
/// the manifest's <c>decodedSha256</c>; every invalid vector fails with the manifest's error kind. Each file's own
/// SHA-256 is checked first, so a damaged copy of the vectors reads as such rather than as a decoder bug.
/// </summary>
internal static class ConformanceCheck
{
    /// <summary>Runs every vector; the result holds passed, failed and one detail per vector.</summary>
    public static JsonObject Run(Gpu.GpuSectionDecoder decoder, string vectorsDirectory)
    {
        string manifestPath = Path.Combine(vectorsDirectory, "manifest.json");
        using JsonDocument manifest = JsonDocument.Parse(File.ReadAllBytes(manifestPath));
        int passed = 0, failed = 0;
        var details = new JsonArray();
        var clock = Stopwatch.StartNew();
        foreach (JsonElement vector in manifest.RootElement.GetProperty("vectors").EnumerateArray())
        {
            string file = vector.GetProperty("file").GetString()!;
            JsonElement expect = vector.GetProperty("expect");
            string outcome = expect.GetProperty("outcome").GetString()!;
            (bool ok, string note) = Check(decoder, vectorsDirectory, file, vector.GetProperty("sha256").GetString()!, expect, outcome);
            if (ok)
                passed++;
            else
            {
                failed++;
                Console.WriteLine($"  FAIL {file}: {note}");
            }

            details.Add(new JsonObject { ["file"] = file, ["expect"] = outcome, ["passed"] = ok, ["note"] = note });
        }

        return new JsonObject
        {
            ["passed"] = passed,
            ["failed"] = failed,
            ["ok"] = failed == 0 && passed > 0,
            ["seconds"] = Math.Round(clock.Elapsed.TotalSeconds, 3),
            ["details"] = details,
        };
    }

    private static (bool Ok, string Note) Check(Gpu.GpuSectionDecoder decoder, string directory, string file, string fileSha256, JsonElement expect, string outcome)
    {
        byte[] bytes;
        try
        {
            bytes = File.ReadAllBytes(Path.Combine(directory, file));
        }
        catch (IOException e)
        {
            return (false, $"cannot read the vector: {e.Message}");
        }

        if (Convert.ToHexStringLower(SHA256.HashData(bytes)) != fileSha256)
            return (false, "the file's SHA-256 differs from the manifest (damaged copy of the vectors)");

        try
        {
            return outcome switch
            {
                "decode" => CheckValid(decoder, bytes, file, expect.GetProperty("decodedSha256").GetString()!),
                "reject" => CheckInvalid(decoder, bytes, file, expect.GetProperty("errorKind").GetString()!),
                _ => (false, $"unknown outcome '{outcome}' in the manifest"),
            };
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            return (false, $"unexpected {e.GetType().Name}: {e.Message}");
        }
    }

    private static (bool Ok, string Note) CheckValid(Gpu.GpuSectionDecoder decoder, byte[] bytes, string file, string decodedSha256)
    {
        ChunkRecord record = ChunkRecord.Parse(bytes, file);
        int elements = record.Header.TokenCount * record.Header.Layout.KvDim;
        var expected = new float[elements];
        var actual = new float[elements];
        var little = new byte[4 * elements];
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        foreach (SectionEntry section in record.Sections)
        {
            record.DecodeSection(section.Layer, section.Kind, expected);
            decoder.Decode(record, section.Layer, section.Kind, actual);
            for (int i = 0; i < elements; i++)
            {
                uint e = BitConverter.SingleToUInt32Bits(expected[i]);
                uint a = BitConverter.SingleToUInt32Bits(actual[i]);
                if (e != a)
                    return (false, $"layer {section.Layer} {section.Kind} element {i}: CPU 0x{e:X8}, device 0x{a:X8}");
                BinaryPrimitives.WriteUInt32LittleEndian(little.AsSpan(4 * i), a);
            }

            hash.AppendData(little);
        }

        string actualSha256 = Convert.ToHexStringLower(hash.GetHashAndReset());
        return actualSha256 == decodedSha256
            ? (true, $"{record.Sections.Count} sections bit-identical to the CPU decoder and the manifest hash")
            : (false, $"decoded SHA-256 {actualSha256} differs from the manifest's {decodedSha256}");
    }

    private static (bool Ok, string Note) CheckInvalid(Gpu.GpuSectionDecoder decoder, byte[] bytes, string file, string errorKind)
    {
        string stage = "parse";
        try
        {
            ChunkRecord record = ChunkRecord.Parse(bytes, file); // header and table errors are the parser's, shared by both paths
            stage = "device decode";
            var values = new float[record.Header.TokenCount * record.Header.Layout.KvDim];
            foreach (SectionEntry section in record.Sections)
                decoder.Decode(record, section.Layer, section.Kind, values);
        }
        catch (ChunkRecordException e)
        {
            return e.Kind.ToString() == errorKind
                ? (true, $"rejected at {stage} with {errorKind}")
                : (false, $"rejected at {stage} with {e.Kind}, the manifest expects {errorKind}");
        }

        return (false, $"accepted; the manifest expects {errorKind}");
    }
}
