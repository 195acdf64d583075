using System.Buffers.Binary;
using KvTier.Reference;
using KvTier.Testing;
using Xunit;

namespace KvTier.Reference.Tests;

/// <summary>Truncated, foreign and nonsensical checkpoint and tokenizer files end in <see cref="InvalidModelFileException"/>.</summary>
public sealed class CheckpointValidationTests
{
    private static readonly LlamaConfig Tiny = new(16, 24, 1, 2, 1, 300, 8, sharedClassifier: true);

    [Fact]
    public void EmptyAndTinyFilesAreRejected()
    {
        AssertRejected(() => LlamaCheckpoint.Parse([], "empty"), "empty", 0);
        AssertRejected(() => LlamaCheckpoint.Parse(new byte[10], "ten"), "ten", 10);
    }

    [Fact]
    public void HeaderWithoutWeightsIsRejected()
    {
        byte[] header = SyntheticCheckpoint.Build(Tiny, 1)[..LlamaCheckpoint.HeaderSize];
        var e = AssertRejected(() => LlamaCheckpoint.Parse(header, "header-only"), "header-only", LlamaCheckpoint.HeaderSize);
        Assert.Contains("implies", e.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(-1)]
    [InlineData(1)]
    [InlineData(-4)]
    [InlineData(4)]
    public void FileOfTheWrongSizeIsRejected(int delta)
    {
        byte[] valid = SyntheticCheckpoint.Build(Tiny, 1);
        byte[] resized = new byte[valid.Length + delta];
        valid.AsSpan(0, Math.Min(valid.Length, resized.Length)).CopyTo(resized);

        AssertRejected(() => LlamaCheckpoint.Parse(resized, "resized"), "resized", Math.Min(valid.Length, resized.Length));
    }

    [Fact]
    public void UnsharedClassifierIsReadFromTheEnd()
    {
        var unshared = new LlamaConfig(16, 24, 1, 2, 1, 300, 8, sharedClassifier: false);
        byte[] bytes = SyntheticCheckpoint.Build(unshared, 3);

        LlamaCheckpoint checkpoint = LlamaCheckpoint.Parse(bytes);

        Assert.Equal(unshared, checkpoint.Config);
        Assert.Equal(LlamaCheckpoint.ExpectedFileSize(Tiny) + 300 * 16 * 4, bytes.Length);
        Assert.NotSame(checkpoint.Weights.TokenEmbedding, checkpoint.Weights.Classifier);
        float last = BinaryPrimitives.ReadSingleLittleEndian(bytes.AsSpan(bytes.Length - 4));
        Assert.Equal(last, checkpoint.Weights.Classifier[^1]);
    }

    [Theory]
    [InlineData(0, 0, "dim")]
    [InlineData(0, -64, "dim")]
    [InlineData(0, 70000, "dim")]
    [InlineData(1, 0, "hidden_dim")]
    [InlineData(1, (1 << 20) + 1, "hidden_dim")]
    [InlineData(2, 0, "n_layers")]
    [InlineData(2, 1025, "n_layers")]
    [InlineData(3, 0, "n_heads")]
    [InlineData(3, 3, "n_heads")]
    [InlineData(3, 16, "odd")] // head size 1
    [InlineData(4, 0, "n_kv_heads")]
    [InlineData(4, 4, "n_kv_heads")] // more KV heads than query heads
    [InlineData(5, 0, "vocab_size")]
    [InlineData(5, 2, "vocab_size")] // BOS and EOS must exist (found by fuzzing: Encode emitted ids outside the vocabulary)
    [InlineData(5, int.MinValue, "vocab_size")]
    [InlineData(5, (1 << 20) + 1, "vocab_size")]
    [InlineData(6, 0, "seq_len")]
    [InlineData(6, -1, "seq_len")]
    [InlineData(6, (1 << 20) + 1, "seq_len")]
    public void AbsurdHeaderValuesAreRejectedAtTheirField(int field, int value, string named)
    {
        byte[] bytes = SyntheticCheckpoint.Build(Tiny, 1);
        BinaryPrimitives.WriteInt32LittleEndian(bytes.AsSpan(field * 4), value);

        var e = AssertRejected(() => LlamaCheckpoint.Parse(bytes, "absurd"), "absurd", field * 4);
        Assert.Contains(named, e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void HugeButLegalHeaderIsRejectedBeforeAllocating()
    {
        // Every field at its bound: the implied size is petabytes. The size check must come before any allocation.
        byte[] header = new byte[LlamaCheckpoint.HeaderSize];
        int[] fields = [65536, 1 << 20, 1024, 16, 16, -(1 << 20), 1 << 20];
        for (int i = 0; i < fields.Length; i++)
            BinaryPrimitives.WriteInt32LittleEndian(header.AsSpan(i * 4), fields[i]);

        AssertRejected(() => LlamaCheckpoint.Parse(header, "huge"), "huge", LlamaCheckpoint.HeaderSize);
    }

    [RequiresModelFact]
    public void GgufFileIsNotACheckpoint()
    {
        var e = Assert.Throws<InvalidModelFileException>(() => LlamaCheckpoint.Load(TestModel.GgufPath));
        Assert.Equal(TestModel.GgufPath, e.SourceName);
        Assert.Equal(0, e.Offset); // "GGUF" read as dim
        Assert.IsAssignableFrom<KvTierFormatException>(e);
    }

    [RequiresModelFact]
    public void ForeignFilesAreRejectedByBothReaders()
    {
        Assert.Throws<InvalidModelFileException>(() => LlamaCheckpoint.Load(TestModel.TokenizerPath));
        Assert.Throws<InvalidModelFileException>(() => Tokenizer.Load(TestModel.CheckpointPath, 512));
        Assert.Throws<InvalidModelFileException>(() => Tokenizer.Load(TestModel.GgufPath, 512));
        Assert.Throws<InvalidModelFileException>(() => Tokenizer.Load(TestModel.TokenizerPath, 511)); // bytes left over
        Assert.Throws<InvalidModelFileException>(() => Tokenizer.Load(TestModel.TokenizerPath, 513)); // runs out
    }

    [RequiresModelFact]
    public void RealFilesLoadFromDiskAndFromMemoryAlike()
    {
        LlamaCheckpoint fromDisk = LlamaCheckpoint.Load(TestModel.CheckpointPath);
        LlamaCheckpoint fromMemory = LlamaCheckpoint.Parse(File.ReadAllBytes(TestModel.CheckpointPath));

        Assert.Equal(fromDisk.Config, fromMemory.Config);
        Assert.Equal(fromDisk.Weights.Wq, fromMemory.Weights.Wq);
        Assert.Equal(fromDisk.Weights.RmsFinal, fromMemory.Weights.RmsFinal);
        Assert.Equal(new FileInfo(TestModel.CheckpointPath).Length, LlamaCheckpoint.ExpectedFileSize(fromDisk.Config));
        Assert.Equal(7, Tokenizer.Load(TestModel.TokenizerPath, 512).MaxTokenLength);
    }

    [Fact]
    public void TruncatedFileOnDiskIsRejectedWithItsPath()
    {
        string path = Path.Combine(Path.GetTempPath(), $"kvtier-truncated-{Guid.NewGuid():N}.bin");
        try
        {
            File.WriteAllBytes(path, SyntheticCheckpoint.Build(Tiny, 1)[..^1]);
            var e = Assert.Throws<InvalidModelFileException>(() => LlamaCheckpoint.Load(path));
            Assert.Equal(path, e.SourceName);
            Assert.StartsWith(path + ": ", e.Message, StringComparison.Ordinal);

            File.WriteAllBytes(path, []);
            Assert.Throws<InvalidModelFileException>(() => LlamaCheckpoint.Load(path));
            Assert.Throws<InvalidModelFileException>(() => Tokenizer.Load(path, 512));
        }
        finally
        {
            File.Delete(path);
        }
    }

    [Theory]
    [InlineData(1, 0)]
    [InlineData(2, 28)]
    [InlineData(3, 1000)]
    [InlineData(4, 1056540)]
    public void RandomBytesAreRejected(int seed, int length)
    {
        byte[] bytes = new byte[length];
        new Random(seed).NextBytes(bytes);

        Assert.Throws<InvalidModelFileException>(() => LlamaCheckpoint.Parse(bytes));
        Assert.Throws<InvalidModelFileException>(() => Tokenizer.Parse(bytes, 512));
    }

    [Theory]
    [InlineData(new byte[] { }, 0)]
    [InlineData(new byte[] { 7, 0, 0 }, 3)]
    [InlineData(new byte[] { 0, 0, 0, 0 }, 0)]            // max_token_length 0
    [InlineData(new byte[] { 255, 255, 255, 255 }, 0)]    // max_token_length -1
    [InlineData(new byte[] { 1, 0, 1, 0 }, 0)]            // max_token_length 65537
    [InlineData(new byte[] { 4, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 65 }, 13)] // one token where three are needed
    public void MalformedTokenizerHeadersAreRejected(byte[] bytes, long offset)
    {
        var e = Assert.Throws<InvalidModelFileException>(() => Tokenizer.Parse(bytes, 3, "tok"));
        Assert.Equal(offset, e.Offset);
    }

    [Theory]
    [InlineData(0)]
    [InlineData(-1)]
    [InlineData(5)] // longer than max_token_length 4
    [InlineData(int.MaxValue)]
    public void TokenLengthsOutsideTheirBoundAreRejected(int length)
    {
        byte[] bytes = SyntheticCheckpoint.BuildTokenizer([("ab"u8.ToArray(), 0f), ("cd"u8.ToArray(), 0f), ("ef"u8.ToArray(), 0f)], maxTokenLength: 4);
        BinaryPrimitives.WriteInt32LittleEndian(bytes.AsSpan(4 + 10 + 4), length); // after max_token_length and token 0 (score, length, "ab"), token 1's score

        var e = Assert.Throws<InvalidModelFileException>(() => Tokenizer.Parse(bytes, 3));
        Assert.Equal(4 + 10 + 4, e.Offset);
    }

    [Theory]
    [InlineData(0)]
    [InlineData(-5)]
    [InlineData((1 << 20) + 1)]
    public void VocabularySizeArgumentIsChecked(int vocabSize)
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => Tokenizer.Parse(new byte[64], vocabSize));
    }

    private static InvalidModelFileException AssertRejected(Action action, string source, long offset)
    {
        var e = Assert.Throws<InvalidModelFileException>(action);
        Assert.Equal(source, e.SourceName);
        Assert.Equal(offset, e.Offset);
        Assert.DoesNotContain('\n', e.Message);
        return e;
    }
}
