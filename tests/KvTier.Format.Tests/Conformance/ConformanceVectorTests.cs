using System.Buffers.Binary;
using System.Security.Cryptography;
using System.Text.Json;
using KvTier.Format;
using KvTier.Format.Codecs;
using KvTier.Testing;
using Xunit;

namespace KvTier.Format.Tests.Conformance;

/// <summary>
/// The committed conformance vectors (format-spec/vectors/manifest.json) through the library alone: every file is
/// the one the manifest names, every valid vector decodes to its hashes, every invalid one fails with exactly its
/// error kind. Read with this test's own JSON and hashing code, independent of the generator in the CLI.
/// </summary>
public sealed class ConformanceVectorTests
{
    private static readonly string VectorsDirectory = RepositoryFiles.ConformanceVectors();


    public static TheoryData<string> Files()
    {
        var data = new TheoryData<string>();
        foreach (JsonElement v in Manifest().RootElement.GetProperty("vectors").EnumerateArray())
            data.Add(v.GetProperty("file").GetString()!);
        return data;
    }

    private static JsonDocument Manifest() => JsonDocument.Parse(File.ReadAllBytes(Path.Combine(VectorsDirectory, "manifest.json")));

    private static JsonElement Entry(JsonDocument manifest, string file) =>
        manifest.RootElement.GetProperty("vectors").EnumerateArray().Single(v => v.GetProperty("file").GetString() == file);

    [Fact]
    public void The_manifest_names_its_format_and_spec_and_lists_every_vector_file()
    {
        using JsonDocument manifest = Manifest();
        Assert.Equal("kvtier-conformance/1", manifest.RootElement.GetProperty("format").GetString());
        Assert.Equal("format-spec/kvtier-format.md", manifest.RootElement.GetProperty("spec").GetString());
        string[] listed = [.. manifest.RootElement.GetProperty("vectors").EnumerateArray().Select(v => v.GetProperty("file").GetString()!).Order(StringComparer.Ordinal)];
        string[] onDisk = [.. new[] { "valid", "invalid" }
            .SelectMany(g => Directory.GetFiles(Path.Combine(VectorsDirectory, g)))
            .Select(f => Path.GetRelativePath(VectorsDirectory, f).Replace('\\', '/'))
            .Order(StringComparer.Ordinal)];
        Assert.Equal(onDisk, listed);
    }

    [Theory]
    [MemberData(nameof(Files))]
    public void Each_vector_has_its_manifest_hash_and_outcome(string file)
    {
        using JsonDocument manifest = Manifest();
        JsonElement entry = Entry(manifest, file);
        byte[] bytes = File.ReadAllBytes(Path.Combine(VectorsDirectory, file));
        Assert.Equal(entry.GetProperty("sha256").GetString(), Convert.ToHexStringLower(SHA256.HashData(bytes)));
        Assert.StartsWith("§", entry.GetProperty("section").GetString(), StringComparison.Ordinal);
        Assert.False(string.IsNullOrWhiteSpace(entry.GetProperty("description").GetString()));

        JsonElement expect = entry.GetProperty("expect");
        string outcome = expect.GetProperty("outcome").GetString()!;
        if (outcome == "reject")
        {
            Assert.StartsWith("invalid/", file, StringComparison.Ordinal);
            var e = Assert.Throws<ChunkRecordException>(() => ChunkRecord.Parse(bytes, file).Decode());
            Assert.Equal(expect.GetProperty("errorKind").GetString(), e.Kind.ToString());
            return;
        }

        Assert.Equal("decode", outcome);
        Assert.StartsWith("valid/", file, StringComparison.Ordinal);
        ChunkRecord record = ChunkRecord.Parse(bytes, file);
        KvChunk chunk = record.Decode();
        ChunkRecordHeader h = record.Header;
        Assert.Equal(expect.GetProperty("codec").GetString(), ChunkCodecs.Get(h.Codec).Name);
        Assert.Equal(expect.GetProperty("level").GetInt32(), h.Level);
        Assert.Equal(expect.GetProperty("elementType").GetString(), KvTier.Layout.LayoutNames.Of(h.Layout.ElementType));
        Assert.Equal(expect.GetProperty("layers").GetInt32(), h.Layout.Layers);
        Assert.Equal(expect.GetProperty("kvDim").GetInt32(), h.Layout.KvDim);
        Assert.Equal(expect.GetProperty("tokens").GetInt32(), h.TokenCount);

        // decodedSha256: every section in table order (layer 0 K, layer 0 V, …), each value as binary32 little-endian.
        using var decoded = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        using var elements = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        var values = new float[chunk.ElementsPerSection];
        var buffer = new byte[4 * values.Length];
        var native = new byte[chunk.ElementsPerSection * h.Layout.ElementSize];
        foreach (SectionEntry section in record.Sections)
        {
            record.DecodeSection(section.Layer, section.Kind, values);
            for (int i = 0; i < values.Length; i++)
                BinaryPrimitives.WriteSingleLittleEndian(buffer.AsSpan(4 * i), values[i]);
            decoded.AppendData(buffer);
            record.DecodeSectionElements(section.Layer, section.Kind, native);
            elements.AppendData(native);
            Assert.True(native.AsSpan().SequenceEqual(chunk.Section(section.Layer, section.Kind)));
        }

        Assert.Equal(expect.GetProperty("decodedSha256").GetString(), Convert.ToHexStringLower(decoded.GetHashAndReset()));
        Assert.Equal(expect.GetProperty("elementsSha256").GetString(), Convert.ToHexStringLower(elements.GetHashAndReset()));
        Assert.Equal(-1, record.FirstNonZeroPadding()); // a later version's header fields are not padding (§2.2)
    }

    [Fact]
    public void Every_error_kind_has_an_invalid_vector()
    {
        using JsonDocument manifest = Manifest();
        string[] kinds = [.. manifest.RootElement.GetProperty("vectors").EnumerateArray()
            .Select(v => v.GetProperty("expect"))
            .Where(e => e.GetProperty("outcome").GetString() == "reject")
            .Select(e => e.GetProperty("errorKind").GetString()!)];
        Assert.All(Enum.GetNames<ChunkRecordErrorKind>(), kind => Assert.Contains(kind, kinds));
    }
}
