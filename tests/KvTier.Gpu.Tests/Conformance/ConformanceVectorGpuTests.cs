using System.Buffers.Binary;
using System.Security.Cryptography;
using System.Text.Json;
using KvTier.Format;
using KvTier.Testing;
using Xunit;

namespace KvTier.Gpu.Tests.Conformance;

/// <summary>
/// The conformance vectors (format-spec/vectors/manifest.json) through <see cref="GpuSectionDecoder"/> on ILGPU's CPU
/// accelerator: every valid vector's sections equal the CPU decoder's bit for bit and hash to the manifest's
/// <c>decodedSha256</c>; every invalid vector that parses fails on the GPU path with the manifest's error kind.
/// </summary>
[Collection(CpuAcceleratorCollection.Name)]
public sealed class ConformanceVectorGpuTests(CpuAcceleratorFixture gpu)
{
    private static readonly string VectorsDirectory = RepositoryFiles.ConformanceVectors();


    private static JsonDocument Manifest() => JsonDocument.Parse(File.ReadAllBytes(Path.Combine(VectorsDirectory, "manifest.json")));

    public static TheoryData<string> Files(string outcome)
    {
        var data = new TheoryData<string>();
        using JsonDocument manifest = Manifest();
        foreach (JsonElement v in manifest.RootElement.GetProperty("vectors").EnumerateArray())
        {
            if (v.GetProperty("expect").GetProperty("outcome").GetString() == outcome)
                data.Add(v.GetProperty("file").GetString()!);
        }

        return data;
    }

    private static JsonElement Expect(JsonDocument manifest, string file) =>
        manifest.RootElement.GetProperty("vectors").EnumerateArray().Single(v => v.GetProperty("file").GetString() == file).GetProperty("expect");

    [Theory]
    [MemberData(nameof(Files), "decode")]
    public void Valid_vectors_decode_on_the_gpu_path_as_on_the_cpu(string file)
    {
        using JsonDocument manifest = Manifest();
        ChunkRecord record = ChunkRecord.Parse(File.ReadAllBytes(Path.Combine(VectorsDirectory, file)), file);
        int elements = record.Header.TokenCount * record.Header.Layout.KvDim;
        var expected = new float[elements];
        var actual = new float[elements];
        var bytes = new byte[4 * elements];
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        foreach (SectionEntry section in record.Sections)
        {
            record.DecodeSection(section.Layer, section.Kind, expected);
            gpu.Decoder.Decode(record, section.Layer, section.Kind, actual);
            Sizes.BitEqual(expected, actual);
            for (int i = 0; i < elements; i++)
                BinaryPrimitives.WriteSingleLittleEndian(bytes.AsSpan(4 * i), actual[i]);
            hash.AppendData(bytes);
        }

        Assert.Equal(Expect(manifest, file).GetProperty("decodedSha256").GetString(), Convert.ToHexStringLower(hash.GetHashAndReset()));
    }

    [Theory]
    [MemberData(nameof(Files), "reject")]
    public void Invalid_vectors_fail_on_the_gpu_path_with_their_error_kind(string file)
    {
        using JsonDocument manifest = Manifest();
        string kind = Expect(manifest, file).GetProperty("errorKind").GetString()!;
        byte[] bytes = File.ReadAllBytes(Path.Combine(VectorsDirectory, file));
        var e = Assert.Throws<ChunkRecordException>(() =>
        {
            ChunkRecord record = ChunkRecord.Parse(bytes, file); // header and table errors are the parser's, shared by both paths
            var values = new float[record.Header.TokenCount * record.Header.Layout.KvDim];
            foreach (SectionEntry section in record.Sections)
                gpu.Decoder.Decode(record, section.Layer, section.Kind, values);
        });
        Assert.Equal(kind, e.Kind.ToString());
    }
}
