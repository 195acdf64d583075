using System.Buffers.Binary;
using System.Runtime.InteropServices;
using System.Text;
using System.Text.Json;
using FsCheck;
using FsCheck.Fluent;
using FsCheck.Xunit;
using KvTier.Tensors;
using Xunit;

namespace KvTier.Tests.Tensors;

public sealed class SafetensorsRoundTripTests
{
    /// <summary>One generated tensor: its raw little-endian bytes are the ground truth.</summary>
    public sealed record TensorCase(string Name, SafetensorsDType DType, long[] Shape, byte[] Bytes)
    {
        public override string ToString() => $"{Name}:{DType}[{string.Join(",", Shape)}]";
    }

    public sealed record FileCase(TensorCase[] Tensors, KeyValuePair<string, string>[] Metadata)
    {
        public override string ToString() => $"tensors: {string.Join("; ", Tensors.Select(t => t.ToString()))}; metadata: {Metadata.Length}";
    }

    private static readonly SafetensorsDType[] GeneratedTypes =
        [SafetensorsDType.F32, SafetensorsDType.I32, SafetensorsDType.I64, SafetensorsDType.F16, SafetensorsDType.BF16, SafetensorsDType.U8];

    // Names and metadata exercise JSON escaping: quotes, backslashes, control characters, non-ASCII and a surrogate pair.
    private static readonly string[] NameFragments = ["layer", "model.layers.0", "k+v", "q\"uote", "back\\slash", "tab\t", "é", "κλειδί", "\U0001F600", "<&>", "\u0001"];

    private static Gen<byte> AnyByte => Gen.Choose(0, 255).Select(b => (byte)b);

    private static Gen<TensorCase> TensorGen(int index) =>
        from dtype in Gen.Elements(GeneratedTypes)
        from rank in Gen.Choose(0, 4)
        from shape in Gen.ArrayOf(Gen.Choose(0, 4).Select(d => (long)d), rank)
        from fragment in Gen.Elements(NameFragments)
        let count = shape.Aggregate(1L, (a, d) => a * d)
        from bytes in Gen.ArrayOf(AnyByte, checked((int)count * SafetensorsDTypes.GetElementSize(dtype)))
        select new TensorCase($"t{index}/{fragment}", dtype, shape, bytes);

    private static Gen<KeyValuePair<string, string>> MetadataGen(int index) =>
        from key in Gen.Elements(NameFragments)
        from value in Gen.Elements(NameFragments.Append("").Append("{\"json\": [1, 2]}").ToArray())
        select new KeyValuePair<string, string>($"m{index}{key}", value);

    private static Arbitrary<FileCase> FileCases =>
        (from tensorCount in Gen.Choose(0, 5)
         from tensors in Gen.CollectToArray(Enumerable.Range(0, tensorCount), TensorGen)
         from metadataCount in Gen.Choose(0, 3)
         from metadata in Gen.CollectToArray(Enumerable.Range(0, metadataCount), MetadataGen)
         select new FileCase(tensors, metadata)).ToArbitrary();

    private static SafetensorsWriter WriterFor(FileCase c)
    {
        var writer = new SafetensorsWriter();
        foreach (KeyValuePair<string, string> m in c.Metadata)
            writer.AddMetadata(m.Key, m.Value);
        foreach (TensorCase t in c.Tensors)
        {
            switch (t.DType)
            {
                case SafetensorsDType.F32:
                    writer.AddFloat32(t.Name, MemoryMarshal.Cast<byte, float>(t.Bytes), t.Shape);
                    break;
                case SafetensorsDType.I32:
                    writer.AddInt32(t.Name, MemoryMarshal.Cast<byte, int>(t.Bytes), t.Shape);
                    break;
                case SafetensorsDType.I64:
                    writer.AddInt64(t.Name, MemoryMarshal.Cast<byte, long>(t.Bytes), t.Shape);
                    break;
                case SafetensorsDType.F16:
                    writer.AddFloat16Bits(t.Name, MemoryMarshal.Cast<byte, ushort>(t.Bytes), t.Shape);
                    break;
                case SafetensorsDType.BF16:
                    writer.AddBFloat16Bits(t.Name, MemoryMarshal.Cast<byte, ushort>(t.Bytes), t.Shape);
                    break;
                default:
                    writer.AddRaw(t.Name, t.DType, t.Bytes, t.Shape);
                    break;
            }
        }
        return writer;
    }

    [Property(MaxTest = 300)]
    public Property WrittenFilesReadBackIdentically() => Prop.ForAll(FileCases, c =>
    {
        byte[] bytes = WriterFor(c).ToArray();
        SafetensorsFile file = SafetensorsFile.Parse(bytes, "generated");

        Assert.Equal(c.Tensors.Select(t => t.Name), file.Tensors.Select(t => t.Name));
        foreach (TensorCase expected in c.Tensors)
        {
            SafetensorsTensorInfo info = file.GetTensor(expected.Name);
            Assert.Equal(expected.DType, info.DType);
            Assert.Equal(expected.Shape, info.Shape);
            Assert.Equal(expected.Bytes, file.GetBytes(expected.Name).ToArray());
            AssertTypedAccessorsAgree(file, expected);
        }
        Assert.Equal(c.Metadata.ToDictionary(m => m.Key, m => m.Value), file.Metadata);
        Assert.Equal(0, file.DataStart % 8);
        AssertHeaderFollowsSpec(bytes, c);
    });

    [Property(MaxTest = 100)]
    public Property OutputIsDeterministic() => Prop.ForAll(FileCases, c =>
    {
        byte[] first = WriterFor(c).ToArray();
        var stream = new MemoryStream();
        WriterFor(c).WriteTo(stream);
        Assert.Equal(first, stream.ToArray());
    });

    [Fact]
    public void FloatBitsSurviveExactlyIncludingNaNPayloadsAndNegativeZero()
    {
        uint[] patterns =
        [
            0x7FC00000, // quiet NaN
            0x7FC00001, // quiet NaN with payload
            0x7F800001, // signalling NaN
            0xFFFFFFFF, // negative NaN, all payload bits
            0x80000000, // -0.0
            0x00000000, // +0.0
            0x00000001, // smallest subnormal
            0x7F800000, // +infinity
            0xFF800000, // -infinity
            0x3F800000, // 1.0
        ];
        float[] values = patterns.Select(p => BitConverter.UInt32BitsToSingle(p)).ToArray();
        var writer = new SafetensorsWriter();
        writer.AddFloat32("bits", values, 2, 5);
        SafetensorsFile file = SafetensorsFile.Parse(writer.ToArray());

        Assert.Equal(patterns, MemoryMarshal.Cast<float, uint>(file.GetFloat32("bits")).ToArray());
        Assert.Equal(patterns, file.ToFloat32Array("bits").Select(BitConverter.SingleToUInt32Bits));
        var copy = new float[values.Length];
        file.CopyFloat32("bits", copy);
        Assert.Equal(patterns, copy.Select(BitConverter.SingleToUInt32Bits));
        Assert.Equal(patterns.Length * 4, file.GetBytes("bits").Length);
        Assert.Equal(0x7F800001u, BinaryPrimitives.ReadUInt32LittleEndian(file.GetBytes("bits")[8..]));
    }

    [Fact]
    public void IntegerAndHalfTensorsRoundTrip()
    {
        int[] ints = [int.MinValue, -1, 0, 1, int.MaxValue, 0x01020304];
        long[] longs = [long.MinValue, long.MaxValue];
        ushort[] half = [0x3C00, 0x7E01, 0x8000];
        ushort[] bfloat = [0x3F80, 0xFFC1];
        var writer = new SafetensorsWriter();
        writer.AddInt32("ints", ints, 3, 2);
        writer.AddInt64("longs", longs, 2);
        writer.AddFloat16Bits("half", half, 3, 1);
        writer.AddBFloat16Bits("bfloat", bfloat, 1, 2);
        writer.AddFloat32("scalar", [42f]);
        writer.AddFloat32("empty", [], 0, 7);
        SafetensorsFile file = SafetensorsFile.Parse(writer.ToArray());

        Assert.Equal(ints, file.GetInt32("ints").ToArray());
        Assert.Equal(ints, file.ToInt32Array("ints"));
        Assert.Equal(longs, file.GetInt64("longs").ToArray());
        Assert.Equal(half, file.GetFloat16Bits("half").ToArray());
        Assert.Equal(bfloat, file.GetBFloat16Bits("bfloat").ToArray());
        Assert.Empty(file.GetTensor("scalar").Shape);
        Assert.Equal(1, file.GetTensor("scalar").ElementCount);
        Assert.Equal(42f, file.GetFloat32("scalar")[0]);
        Assert.Equal(0, file.GetTensor("empty").ElementCount);
        Assert.True(file.GetFloat32("empty").IsEmpty);
        // Little-endian on disk whatever the host.
        Assert.Equal(new byte[] { 0x04, 0x03, 0x02, 0x01 }, file.GetBytes("ints")[20..].ToArray());
    }

    [Fact]
    public void TypedAccessorsRefuseTheWrongDTypeAndUnknownNames()
    {
        var writer = new SafetensorsWriter();
        writer.AddInt32("ints", [1, 2], 2);
        SafetensorsFile file = SafetensorsFile.Parse(writer.ToArray(), "f.safetensors");

        Assert.Throws<InvalidOperationException>(() => file.GetFloat32("ints").Length);
        Assert.Throws<InvalidOperationException>(() => file.ToFloat32Array("ints"));
        Assert.Throws<KeyNotFoundException>(() => file.GetInt32("missing").Length);
        Assert.Throws<ArgumentException>(() => file.CopyInt32("ints", new int[3]));
        Assert.False(file.TryGetTensor("missing", out _));
        Assert.True(file.Contains("ints"));
    }

    /// <summary>Golden file assembled byte by byte from the format description, not by the writer.</summary>
    [Fact]
    public void ReadsAHandAssembledFile()
    {
        // Header: 104 bytes of JSON + 0 padding = 104 (a multiple of 8).
        const string header = "{\"__metadata__\":{\"format\":\"pt\"},\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},\"b\":{\"dtype\":\"I32\",\"shape\":[],\"data_offsets\":[8,12]}}";
        byte[] headerBytes = Encoding.ASCII.GetBytes(header);
        int padding = (8 - headerBytes.Length % 8) % 8;
        var file = new List<byte>();
        file.AddRange(BitConverter.IsLittleEndian ? BitConverter.GetBytes((ulong)(headerBytes.Length + padding)) : BitConverter.GetBytes((ulong)(headerBytes.Length + padding)).Reverse());
        file.AddRange(headerBytes);
        file.AddRange(Enumerable.Repeat((byte)' ', padding));
        file.AddRange([0x00, 0x00, 0x80, 0x3F]); // 1.0f
        file.AddRange([0x00, 0x00, 0x20, 0xC0]); // -2.5f
        file.AddRange([0xFE, 0xFF, 0xFF, 0xFF]); // -2

        SafetensorsFile parsed = SafetensorsFile.Parse(file.ToArray(), "golden");

        Assert.Equal(8 + headerBytes.Length + padding, parsed.DataStart);
        Assert.Equal(12, parsed.DataLength);
        Assert.Equal("pt", parsed.Metadata["format"]);
        Assert.Equal([1.0f, -2.5f], parsed.GetFloat32("a").ToArray());
        Assert.Equal(new long[] { 2 }, parsed.GetTensor("a").Shape);
        Assert.Equal(-2, parsed.GetInt32("b")[0]);
        Assert.Equal(8, parsed.GetTensor("b").DataBegin);
        Assert.Equal(12, parsed.GetTensor("b").DataEnd);
    }

    /// <summary>
    /// The example file in the reference implementation's documentation: header of 60 bytes without
    /// padding (older writers did not pad), so the data buffer starts at an unaligned 68.
    /// </summary>
    [Fact]
    public void ReadsTheReferenceDocumentationExample()
    {
        byte[] bytes = [(byte)'<', 0, 0, 0, 0, 0, 0, 0,
            .. "{\"test\":{\"dtype\":\"I32\",\"shape\":[2,2],\"data_offsets\":[0,16]}}"u8,
            .. new byte[16]];
        SafetensorsFile file = SafetensorsFile.Parse(bytes);
        Assert.Equal(68, file.DataStart);
        Assert.Equal([0, 0, 0, 0], file.GetInt32("test").ToArray());
        Assert.Equal(new long[] { 2, 2 }, file.GetTensor("test").Shape);
    }

    /// <summary>For inputs where the reference writer's order is the insertion order (one dtype, names sorted), the bytes match it exactly.</summary>
    [Fact]
    public void WriterMatchesTheReferenceLayoutByteForByte()
    {
        var writer = new SafetensorsWriter();
        writer.AddInt32("test", [0, 0, 0, 0], 2, 2);
        byte[] expected = [(byte)'@', 0, 0, 0, 0, 0, 0, 0,
            .. "{\"test\":{\"dtype\":\"I32\",\"shape\":[2,2],\"data_offsets\":[0,16]}}    "u8,
            .. new byte[16]];
        Assert.Equal(expected, writer.ToArray());
    }

    [Fact]
    public void EmptyWriterProducesAnEmptyButValidFile()
    {
        byte[] bytes = new SafetensorsWriter().ToArray();
        Assert.Equal("{}      ", SafetensorsTestFiles.HeaderText(bytes));
        SafetensorsFile file = SafetensorsFile.Parse(bytes);
        Assert.Empty(file.Tensors);
        Assert.Empty(file.Metadata);
        Assert.Equal(0, file.DataLength);
    }

    [Fact]
    public void OpenReadsAFileWrittenToAPath()
    {
        string dir = Directory.CreateTempSubdirectory("kvtier-st-").FullName;
        try
        {
            string path = Path.Combine(dir, "x.safetensors");
            var writer = new SafetensorsWriter();
            writer.AddFloat32("w", [1f, 2f, 3f], 3);
            writer.AddMetadata("kind", "test");
            writer.WriteTo(path);

            SafetensorsFile file = SafetensorsFile.Open(path);
            Assert.Equal(path, file.SourceName);
            Assert.Equal([1f, 2f, 3f], file.ToFloat32Array("w"));
            Assert.Equal("test", file.Metadata["kind"]);
            Assert.Equal(writer.ToArray(), File.ReadAllBytes(path));
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    private static void AssertTypedAccessorsAgree(SafetensorsFile file, TensorCase expected)
    {
        switch (expected.DType)
        {
            case SafetensorsDType.F32:
                Assert.Equal(expected.Bytes, MemoryMarshal.AsBytes(file.GetFloat32(expected.Name)).ToArray());
                Assert.Equal(expected.Bytes, MemoryMarshal.AsBytes(file.ToFloat32Array(expected.Name).AsSpan()).ToArray());
                break;
            case SafetensorsDType.I32:
                Assert.Equal(expected.Bytes, MemoryMarshal.AsBytes(file.GetInt32(expected.Name)).ToArray());
                Assert.Equal(expected.Bytes, MemoryMarshal.AsBytes(file.ToInt32Array(expected.Name).AsSpan()).ToArray());
                break;
            case SafetensorsDType.I64:
                Assert.Equal(expected.Bytes, MemoryMarshal.AsBytes(file.GetInt64(expected.Name)).ToArray());
                break;
            case SafetensorsDType.F16:
                Assert.Equal(expected.Bytes, MemoryMarshal.AsBytes(file.GetFloat16Bits(expected.Name)).ToArray());
                break;
            case SafetensorsDType.BF16:
                Assert.Equal(expected.Bytes, MemoryMarshal.AsBytes(file.GetBFloat16Bits(expected.Name)).ToArray());
                break;
        }
    }

    private static void AssertNoWhitespaceOutsideStrings(string json)
    {
        bool inString = false, escaped = false;
        for (int i = 0; i < json.Length; i++)
        {
            char ch = json[i];
            if (inString)
            {
                if (escaped)
                    escaped = false;
                else if (ch == '\\')
                    escaped = true;
                else if (ch == '"')
                    inString = false;
            }
            else if (ch == '"')
            {
                inString = true;
            }
            else
            {
                Assert.False(char.IsWhiteSpace(ch), $"whitespace outside a string at {i}");
            }
        }
    }

    /// <summary>Checks the header against the format description with an independent JSON parser.</summary>
    private static void AssertHeaderFollowsSpec(byte[] bytes, FileCase c)
    {
        ulong n = BinaryPrimitives.ReadUInt64LittleEndian(bytes);
        Assert.Equal(0UL, n % 8);
        string header = SafetensorsTestFiles.HeaderText(bytes);
        string json = header.TrimEnd(' ');
        Assert.True(header.Length - json.Length < 8, "padding is under 8 spaces");
        Assert.EndsWith("}", json);

        using JsonDocument doc = JsonDocument.Parse(json);
        Assert.Equal(JsonValueKind.Object, doc.RootElement.ValueKind);
        AssertNoWhitespaceOutsideStrings(json);

        var properties = doc.RootElement.EnumerateObject().ToList();
        int first = 0;
        if (c.Metadata.Length > 0)
        {
            Assert.Equal("__metadata__", properties[0].Name);
            Assert.Equal(c.Metadata.Select(m => m.Key), properties[0].Value.EnumerateObject().Select(p => p.Name));
            Assert.All(properties[0].Value.EnumerateObject(), p => Assert.Equal(JsonValueKind.String, p.Value.ValueKind));
            first = 1;
        }
        Assert.Equal(c.Tensors.Select(t => t.Name), properties.Skip(first).Select(p => p.Name));

        long expectedBegin = 0;
        foreach ((TensorCase t, JsonProperty p) in c.Tensors.Zip(properties.Skip(first)))
        {
            Assert.Equal(["dtype", "shape", "data_offsets"], p.Value.EnumerateObject().Select(f => f.Name));
            Assert.Equal(SafetensorsDTypes.GetName(t.DType), p.Value.GetProperty("dtype").GetString());
            Assert.Equal(t.Shape, p.Value.GetProperty("shape").EnumerateArray().Select(e => e.GetInt64()));
            long[] offsets = p.Value.GetProperty("data_offsets").EnumerateArray().Select(e => e.GetInt64()).ToArray();
            Assert.Equal([expectedBegin, expectedBegin + t.Bytes.Length], offsets);
            expectedBegin = offsets[1];
        }
        Assert.Equal(bytes.Length - 8 - (long)n, expectedBegin);
    }
}
