using System.Buffers.Binary;
using System.Text;
using KvTier.Tensors;
using Xunit;

namespace KvTier.Tests.Tensors;

public sealed class SafetensorsValidationTests
{
    private const string Source = "bad.safetensors";

    private static SafetensorsFormatException Rejects(byte[] file)
    {
        var ex = Assert.Throws<SafetensorsFormatException>(() => SafetensorsFile.Parse(file, Source));
        Assert.Equal(Source, ex.SourceName);
        Assert.IsAssignableFrom<KvTierFormatException>(ex);
        return ex;
    }

    private static SafetensorsFormatException RejectsHeader(string header, int dataLength = 0) =>
        Rejects(SafetensorsTestFiles.Build(header, dataLength));

    private static string Tensor(string name, string dtype, string shape, long begin, long end) =>
        $"\"{name}\":{{\"dtype\":\"{dtype}\",\"shape\":{shape},\"data_offsets\":[{begin},{end}]}}";

    // ---- Prefix and header size ----

    [Theory]
    [InlineData(0)]
    [InlineData(1)]
    [InlineData(7)]
    public void RejectsFilesShorterThanThePrefix(int length)
    {
        SafetensorsFormatException ex = Rejects(new byte[length]);
        Assert.Equal(0, ex.Offset);
    }

    [Theory]
    [InlineData(ulong.MaxValue)]
    [InlineData(long.MaxValue + 1UL)]
    [InlineData(SafetensorsFile.MaxHeaderSize + 1UL)]
    public void RejectsHeaderSizesOverTheLimitBeforeLookingFurther(ulong headerSize)
    {
        var file = new byte[64];
        BinaryPrimitives.WriteUInt64LittleEndian(file, headerSize);
        SafetensorsFormatException ex = Rejects(file);
        Assert.Contains("limit", ex.Message);
        Assert.Equal(0, ex.Offset);
    }

    [Fact]
    public void RejectsHeaderSizeLargerThanTheFile()
    {
        byte[] file = SafetensorsTestFiles.Build("{}", 0);
        BinaryPrimitives.WriteUInt64LittleEndian(file, (ulong)file.Length - 7);
        Rejects(file);
    }

    [Fact]
    public void RejectsAHeaderCutShortByItsSize()
    {
        byte[] file = SafetensorsTestFiles.Build("{" + Tensor("x", "F32", "[1]", 0, 4) + "}", 4);
        BinaryPrimitives.WriteUInt64LittleEndian(file, 20);
        Rejects(file);
    }

    [Fact]
    public void RejectsATruncatedDataBuffer()
    {
        byte[] file = SafetensorsTestFiles.Build("{" + Tensor("x", "F32", "[2]", 0, 8) + "}", 8);
        Rejects(file[..^1]);
    }

    // ---- Header text and JSON shape ----

    [Fact]
    public void RejectsAHeaderThatIsNotUtf8()
    {
        byte[] file = SafetensorsTestFiles.Build("{\"ab\":null}", 0);
        file[8 + 2] = 0xFF;
        SafetensorsFormatException ex = Rejects(file);
        Assert.Equal(10, ex.Offset);
    }

    [Theory]
    [InlineData("not json at all")]
    [InlineData("{not json}")]
    [InlineData("{\"x\":")]
    [InlineData("{\"x\":{}")]
    [InlineData("{\"x\" {}}")]
    [InlineData("{} x")]
    [InlineData("{}{}")]
    [InlineData("{/* comment */}")]
    [InlineData("{\"__metadata__\":{\"a\":\"b\",}}")]
    [InlineData("{\"a\\ud800\":{}}")]
    [InlineData("")]
    [InlineData(" {}")]
    public void RejectsHeadersThatAreNotOneJsonObject(string header) => RejectsHeader(header);

    [Theory]
    [InlineData("[]")]
    [InlineData("\"string\"")]
    [InlineData("42")]
    [InlineData("null")]
    public void RejectsJsonThatIsNotAnObject(string header) => RejectsHeader(header);

    [Fact]
    public void ReportsTheOffsetOfMalformedJson()
    {
        SafetensorsFormatException ex = RejectsHeader("{\"__metadata__\":{\"a\":tru}}");
        Assert.InRange(ex.Offset, 8, 8 + 26);
        Assert.IsAssignableFrom<System.Text.Json.JsonException>(ex.InnerException);
    }

    // ---- Tensor entries ----

    [Theory]
    [InlineData("F33")]
    [InlineData("f32")]
    [InlineData("F4")]
    [InlineData("")]
    public void RejectsUnknownDTypes(string dtype) => RejectsHeader("{" + Tensor("x", dtype, "[1]", 0, 4) + "}", 4);

    [Theory]
    [InlineData("{\"x\":{\"dtype\":32,\"shape\":[1],\"data_offsets\":[0,4]}}")]
    [InlineData("{\"x\":{\"dtype\":\"F32\",\"shape\":1,\"data_offsets\":[0,4]}}")]
    [InlineData("{\"x\":{\"dtype\":\"F32\",\"shape\":[-1],\"data_offsets\":[0,4]}}")]
    [InlineData("{\"x\":{\"dtype\":\"F32\",\"shape\":[1.0],\"data_offsets\":[0,4]}}")]
    [InlineData("{\"x\":{\"dtype\":\"F32\",\"shape\":[1e0],\"data_offsets\":[0,4]}}")]
    [InlineData("{\"x\":{\"dtype\":\"F32\",\"shape\":[\"1\"],\"data_offsets\":[0,4]}}")]
    [InlineData("{\"x\":{\"dtype\":\"F32\",\"shape\":[[1]],\"data_offsets\":[0,4]}}")]
    [InlineData("{\"x\":{\"dtype\":\"F32\",\"shape\":[18446744073709551616],\"data_offsets\":[0,4]}}")]
    [InlineData("{\"x\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0]}}")]
    [InlineData("{\"x\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4,4]}}")]
    [InlineData("{\"x\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":{\"0\":4}}}")]
    [InlineData("{\"x\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[-0,4]}}")]
    [InlineData("{\"x\":{\"dtype\":\"F32\",\"shape\":[1]}}")]
    [InlineData("{\"x\":{\"shape\":[1],\"data_offsets\":[0,4]}}")]
    [InlineData("{\"x\":{\"dtype\":\"F32\",\"data_offsets\":[0,4]}}")]
    [InlineData("{\"x\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4],\"extra\":1}}")]
    [InlineData("{\"x\":{\"dtype\":\"F32\",\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}")]
    [InlineData("{\"x\":{\"dtype\":\"F32\",\"shape\":[1],\"shape\":[1],\"data_offsets\":[0,4]}}")]
    [InlineData("{\"x\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4],\"data_offsets\":[0,4]}}")]
    [InlineData("{\"x\":[1]}")]
    [InlineData("{\"x\":\"F32\"}")]
    [InlineData("{\"x\":null}")]
    public void RejectsMalformedTensorEntries(string header) => RejectsHeader(header, 4);

    [Fact]
    public void RejectsShapesOfTooManyDimensions()
    {
        string shape = "[" + string.Join(",", Enumerable.Repeat("1", SafetensorsFile.MaxRank + 1)) + "]";
        RejectsHeader("{" + Tensor("x", "U8", shape, 0, 1) + "}", 1);
        string ok = "[" + string.Join(",", Enumerable.Repeat("1", SafetensorsFile.MaxRank)) + "]";
        Assert.Equal(SafetensorsFile.MaxRank, SafetensorsFile.Parse(SafetensorsTestFiles.Build("{" + Tensor("x", "U8", ok, 0, 1) + "}", 1)).GetTensor("x").Shape.Length);
    }

    [Theory]
    [InlineData("F32", "[2]", 0, 4, 8)]          // too few bytes for the shape
    [InlineData("F32", "[1]", 0, 8, 8)]          // too many bytes for the shape
    [InlineData("F16", "[3]", 0, 4, 4)]          // element size matters
    [InlineData("F32", "[]", 0, 0, 0)]           // a scalar has one element
    public void RejectsShapesThatDisagreeWithTheOffsets(string dtype, string shape, long begin, long end, int dataLength)
    {
        SafetensorsFormatException ex = RejectsHeader("{" + Tensor("x", dtype, shape, begin, end) + "}", dataLength);
        Assert.Equal(9, ex.Offset); // the entry's key, just after '{'
    }

    [Theory]
    [InlineData("[4294967296,4294967296,4294967296]")] // element count overflows u64
    [InlineData("[4294967296,4294967296,4294967296,0]")] // overflows before the 0, as in the reference
    [InlineData("[4611686018427387904]")] // element count fits, bytes (× 4) overflow
    public void RejectsShapesWhoseSizeOverflows(string shape)
    {
        SafetensorsFormatException ex = RejectsHeader("{" + Tensor("x", "F32", shape, 0, 0) + "}");
        Assert.Contains("overflows", ex.Message);
    }

    [Theory]
    [InlineData(4, 0)]     // end before begin
    [InlineData(0, 8)]     // past the data buffer
    [InlineData(4, 8)]
    [InlineData(18446744073709551615, 18446744073709551615)]
    public void RejectsOffsetsOutsideTheDataBuffer(ulong begin, ulong end)
    {
        string header = $"{{\"x\":{{\"dtype\":\"U8\",\"shape\":[0],\"data_offsets\":[{begin},{end}]}}}}";
        RejectsHeader(header, 4);
    }

    [Fact]
    public void RejectsOverlappingTensors()
    {
        SafetensorsFormatException ex = RejectsHeader("{" + Tensor("a", "F32", "[2]", 0, 8) + "," + Tensor("b", "F32", "[1]", 4, 8) + "}", 8);
        Assert.Contains("overlaps", ex.Message);
    }

    [Fact]
    public void RejectsTwoTensorsSharingTheSameBytes()
    {
        RejectsHeader("{" + Tensor("a", "F32", "[1]", 0, 4) + "," + Tensor("b", "I32", "[1]", 0, 4) + "}", 4);
    }

    [Fact]
    public void RejectsAnEmptyTensorInsideAnother()
    {
        RejectsHeader("{" + Tensor("a", "F32", "[2]", 0, 8) + "," + Tensor("z", "F32", "[0]", 4, 4) + "}", 8);
    }

    [Fact]
    public void RejectsAHoleBetweenTensors()
    {
        string header = "{" + Tensor("a", "F32", "[1]", 0, 4) + "," + Tensor("b", "F32", "[1]", 8, 12) + "}";
        byte[] file = SafetensorsTestFiles.Build(header, 12);
        SafetensorsFormatException ex = Rejects(file);
        Assert.Contains("belong to no tensor", ex.Message);
        long dataStart = file.Length - 12;
        Assert.Equal(dataStart + 4, ex.Offset);
    }

    [Fact]
    public void RejectsAHoleAtTheStart() =>
        RejectsHeader("{" + Tensor("a", "F32", "[1]", 4, 8) + "}", 8);

    [Fact]
    public void RejectsTrailingBytesAfterTheLastTensor() =>
        RejectsHeader("{" + Tensor("a", "F32", "[1]", 0, 4) + "}", 5);

    [Fact]
    public void RejectsDataWhenThereAreNoTensors() => RejectsHeader("{}", 8);

    // ---- Keys and metadata ----

    [Fact]
    public void RejectsDuplicateTensorNames()
    {
        string header = "{" + Tensor("a", "F32", "[1]", 0, 4) + "," + Tensor("a", "F32", "[1]", 4, 8) + "}";
        SafetensorsFormatException ex = RejectsHeader(header, 8);
        Assert.Contains("Duplicate", ex.Message);
        Assert.Equal(8 + header.IndexOf(",\"a\"", StringComparison.Ordinal) + 1, ex.Offset);
    }

    [Fact]
    public void RejectsDuplicateNamesSpelledWithEscapes() =>
        RejectsHeader("{" + Tensor("a", "F32", "[1]", 0, 4) + "," + Tensor("\\u0061", "F32", "[1]", 4, 8) + "}", 8);

    [Theory]
    [InlineData("{\"__metadata__\":{\"k\":1}}")]
    [InlineData("{\"__metadata__\":{\"k\":null}}")]
    [InlineData("{\"__metadata__\":{\"k\":true}}")]
    [InlineData("{\"__metadata__\":{\"k\":{\"nested\":\"v\"}}}")]
    [InlineData("{\"__metadata__\":{\"k\":[\"v\"]}}")]
    [InlineData("{\"__metadata__\":[]}")]
    [InlineData("{\"__metadata__\":\"k=v\"}")]
    [InlineData("{\"__metadata__\":{\"k\":\"v\",\"k\":\"w\"}}")]
    [InlineData("{\"__metadata__\":{},\"__metadata__\":{}}")]
    public void RejectsMalformedMetadata(string header) => RejectsHeader(header);

    // ---- Accepted edge cases (the strictness above must not reject valid files) ----

    [Theory]
    [InlineData("{}")]
    [InlineData("{\"__metadata__\":null}")]
    [InlineData("{\"__metadata__\":{}}")]
    [InlineData("{}\n\t \r")]
    public void AcceptsFilesWithoutTensors(string header)
    {
        SafetensorsFile file = SafetensorsFile.Parse(SafetensorsTestFiles.Build(header, 0));
        Assert.Empty(file.Tensors);
    }

    [Fact]
    public void AcceptsTensorsInAnyHeaderOrderAndEmptyTensorsAtBoundaries()
    {
        string header = "{" + Tensor("b", "F32", "[1]", 4, 8) + "," + Tensor("e", "F32", "[0,3]", 4, 4) + "," + Tensor("a", "F32", "[1]", 0, 4) + "," + Tensor("z", "U8", "[0]", 8, 8) + "}";
        SafetensorsFile file = SafetensorsFile.Parse(SafetensorsTestFiles.Build(header, 8));
        Assert.Equal(["a", "e", "b", "z"], file.Tensors.Select(t => t.Name));
    }

    [Fact]
    public void AcceptsAHeaderThatIsNotPadded()
    {
        byte[] file = SafetensorsTestFiles.Build("{" + Tensor("a", "U8", "[3]", 0, 3) + "}", [1, 2, 3], pad: false);
        Assert.Equal([1, 2, 3], SafetensorsFile.Parse(file).GetBytes("a").ToArray());
    }

    // ---- Open(path) ----

    [Fact]
    public void OpenRejectsCorruptFilesWithThePathAsSource()
    {
        string dir = Directory.CreateTempSubdirectory("kvtier-st-").FullName;
        try
        {
            string path = Path.Combine(dir, "huge-header.safetensors");
            var bytes = new byte[16];
            BinaryPrimitives.WriteUInt64LittleEndian(bytes, ulong.MaxValue);
            File.WriteAllBytes(path, bytes);
            var ex = Assert.Throws<SafetensorsFormatException>(() => SafetensorsFile.Open(path));
            Assert.Equal(path, ex.SourceName);

            File.WriteAllBytes(path, [1, 2, 3]);
            Assert.Throws<SafetensorsFormatException>(() => SafetensorsFile.Open(path));

            File.WriteAllBytes(path, SafetensorsTestFiles.Build("{" + Tensor("a", "F32", "[2]", 0, 8) + "}", 8)[..^2]);
            Assert.Throws<SafetensorsFormatException>(() => SafetensorsFile.Open(path));

            Assert.Throws<FileNotFoundException>(() => SafetensorsFile.Open(Path.Combine(dir, "missing")));
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    // ---- Writer argument validation ----

    [Fact]
    public void WriterRejectsBadNames()
    {
        var writer = new SafetensorsWriter();
        writer.AddFloat32("a", [1f], 1);
        Assert.Throws<ArgumentException>(() => writer.AddFloat32("", [1f], 1));
        Assert.Throws<ArgumentException>(() => writer.AddFloat32("__metadata__", [1f], 1));
        Assert.Throws<ArgumentException>(() => writer.AddFloat32("a", [1f], 1));
        Assert.Throws<ArgumentException>(() => writer.AddFloat32("bad\uD800", [1f], 1));
        Assert.Throws<ArgumentNullException>(() => writer.AddFloat32(null!, [1f], 1));
        Assert.Equal(1, writer.TensorCount);
        Assert.Equal(4, writer.DataLength);
    }

    [Fact]
    public void WriterRejectsShapesThatDoNotFitTheValues()
    {
        var writer = new SafetensorsWriter();
        Assert.Throws<ArgumentException>(() => writer.AddFloat32("x", [1f, 2f], 3));
        Assert.Throws<ArgumentException>(() => writer.AddFloat32("x", [1f, 2f]));
        Assert.Throws<ArgumentException>(() => writer.AddFloat32("x", [1f, 2f], -1, -2));
        Assert.Throws<ArgumentException>(() => writer.AddFloat32("x", [], 4294967296, 4294967296, 4294967296, 0));
        Assert.Throws<ArgumentException>(() => writer.AddFloat32("x", [1f], new long[SafetensorsFile.MaxRank + 1].Select(_ => 1L).ToArray()));
        Assert.Throws<ArgumentException>(() => writer.AddRaw("x", SafetensorsDType.F32, new byte[5], 1));
        Assert.Equal(0, writer.TensorCount);
        Assert.Equal(0, writer.DataLength);
        writer.AddFloat32("x", [], 0, 4294967296);
        Assert.Equal(1, writer.TensorCount);
    }

    [Fact]
    public void WriterRejectsBadMetadata()
    {
        var writer = new SafetensorsWriter();
        writer.AddMetadata("k", "v");
        Assert.Throws<ArgumentException>(() => writer.AddMetadata("k", "w"));
        Assert.Throws<ArgumentException>(() => writer.AddMetadata("x", "\uDC00"));
        Assert.Throws<ArgumentNullException>(() => writer.AddMetadata("x", null!));
    }

    [Fact]
    public void WriterRefusesAHeaderOverTheReaderLimit()
    {
        var writer = new SafetensorsWriter();
        string big = new('a', SafetensorsFile.MaxHeaderSize / 2);
        writer.AddMetadata("a", big);
        writer.AddMetadata("b", big);
        Assert.Throws<InvalidOperationException>(() => writer.ToArray());
        Assert.Throws<InvalidOperationException>(() => writer.WriteTo(Stream.Null));
    }

    [Fact]
    public void ErrorMessagesNameTheSourceAndOffset()
    {
        var ex = Assert.Throws<SafetensorsFormatException>(() => SafetensorsFile.Parse(new byte[3], "f.safetensors"));
        Assert.StartsWith("f.safetensors: ", ex.Message);
        Assert.Contains("(at byte 0)", ex.Message);
        var anonymous = Assert.Throws<SafetensorsFormatException>(() => SafetensorsFile.Parse(Encoding.ASCII.GetBytes("short")));
        Assert.Null(anonymous.SourceName);
    }
}
