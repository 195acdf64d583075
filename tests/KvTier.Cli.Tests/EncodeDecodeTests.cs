using KvTier.Cli.Conformance;
using KvTier.Format;
using KvTier.Format.Codecs;
using KvTier.Keys;
using KvTier.Layout;
using KvTier.Reference;
using KvTier.Tensors;
using KvTier.Testing;
using Xunit;

namespace KvTier.Cli.Tests;

/// <summary>
/// <c>kvtier encode</c> and <c>kvtier decode</c>: raw round-trips bit for bit, lossy codecs stay within their
/// quantization bounds, keys follow the documented derivation, and bad input changes nothing on disk.
/// </summary>
public sealed class EncodeDecodeTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("kvtier-encode-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private string PathOf(string name) => Path.Combine(_dir, name);

    public static TheoryData<KvElementType> ElementTypes() => [KvElementType.Float32, KvElementType.Float16, KvElementType.BFloat16];

    public static TheoryData<string> LossyCodecs() => [.. ChunkCodecs.All.Where(c => !c.Lossless && VectorGenerator.IsAvailable(c)).Select(c => c.Name)];

    [Theory]
    [MemberData(nameof(ElementTypes))]
    public void Raw_round_trips_the_kv_tensors_bit_for_bit(KvElementType type)
    {
        string input = PathOf("in.safetensors");
        SyntheticKvFiles.Write(input, SyntheticKvFiles.Layout(type), tokens: 13);

        Assert.Equal(0, CliRunner.Run("encode", "--in", input, "--codec", "raw", "--out", PathOf("raw.kvt")).ExitCode);
        CliResult decoded = CliRunner.Run("decode", "--in", PathOf("raw.kvt"), "--out", PathOf("out.safetensors"));

        Assert.Equal(0, decoded.ExitCode);
        SafetensorsFile before = SafetensorsFile.Open(input);
        SafetensorsFile after = SafetensorsFile.Open(PathOf("out.safetensors"));
        for (int layer = 0; layer < 3; layer++)
        {
            foreach (string name in new[] { KvCacheFile.KeysTensor(layer), KvCacheFile.ValuesTensor(layer) })
            {
                Assert.Equal(before.GetTensor(name).Shape.ToArray(), after.GetTensor(name).Shape.ToArray());
                Assert.True(before.GetBytes(name).SequenceEqual(after.GetBytes(name)), $"{name} differs");
            }
        }

        KvCacheFileContents read = KvCacheFile.Read(PathOf("out.safetensors"));
        Assert.Equal(SyntheticKvFiles.Layout(type), read.Layout);
        Assert.Equal(13, read.Cache.Length);
    }

    [Theory]
    [MemberData(nameof(LossyCodecs))]
    public void Lossy_codecs_stay_within_their_quantization_bounds(string codec)
    {
        string input = PathOf("in.safetensors");
        KvCacheFileContents original = SyntheticKvFiles.Write(input, SyntheticKvFiles.Layout(), tokens: 40);

        Assert.Equal(0, CliRunner.Run("encode", "--in", input, "--codec", codec, "--out", PathOf("lossy.kvt")).ExitCode);
        Assert.Equal(0, CliRunner.Run("decode", "--in", PathOf("lossy.kvt"), "--out", PathOf("out.safetensors")).ExitCode);

        KvCache decoded = KvCacheFile.Read(PathOf("out.safetensors")).Cache;
        KvLayout layout = original.Layout;
        double squaredError = 0;
        double squaredSignal = 0;
        for (int layer = 0; layer < layout.Layers; layer++)
        {
            foreach (bool keys in new[] { true, false })
            {
                ReadOnlySpan<float> x = keys ? original.Cache.Keys(layer) : original.Cache.Values(layer);
                ReadOnlySpan<float> y = keys ? decoded.Keys(layer) : decoded.Values(layer);
                float sectionMax = 0;
                foreach (float v in x)
                    sectionMax = MathF.Max(sectionMax, MathF.Abs(v));
                for (int i = 0; i < x.Length; i++)
                {
                    float error = MathF.Abs(x[i] - y[i]);
                    squaredError += (double)error * error;
                    squaredSignal += (double)x[i] * x[i];
                    if (codec == "q8")
                    {
                        // Half a step of the (token, head) group's scale, absmax / 127.
                        int group = i / layout.HeadDim;
                        float groupMax = 0;
                        foreach (float v in x.Slice(group * layout.HeadDim, layout.HeadDim))
                            groupMax = MathF.Max(groupMax, MathF.Abs(v));
                        Assert.True(error <= groupMax / 127f * 0.5001f + 1e-7f, $"layer {layer} element {i}: error {error}");
                    }
                    else
                    {
                        // Half a step of the coarsest scale any level may use: absmax / 3 over a group within the section.
                        Assert.True(error <= sectionMax / 3f * 0.5001f + 1e-7f, $"layer {layer} element {i}: error {error}");
                    }
                }
            }
        }

        Assert.True(squaredError / squaredSignal < 0.01, $"relative squared error {squaredError / squaredSignal}");
    }

    [Fact]
    public void Encode_reports_sizes_and_keys_the_whole_sequence_as_one_prefix_chunk()
    {
        string input = PathOf("in.safetensors");
        KvCacheFileContents file = SyntheticKvFiles.Write(input, SyntheticKvFiles.Layout(), tokens: 11);
        string output = PathOf("q8.kvt");

        CliResult result = CliRunner.Run("encode", "--in", input, "--codec", "q8", "--level", "0", "--out", output);

        Assert.Equal(0, result.ExitCode);
        long recordBytes = new FileInfo(output).Length;
        long f32Bytes = 2L * 3 * 11 * 16 * 4;
        ChunkKey expected = new ChunkKeys(file.Fingerprint, "", chunkTokens: 11).PrefixKeys(file.Tokens)[0];
        Assert.StartsWith($"{output}: q8 level 0, 11 tokens, 3 layers x K,V x 16 f32; {f32Bytes} f32 bytes -> {recordBytes} record bytes (", result.Output, StringComparison.Ordinal);
        Assert.Contains($"{8.0 * recordBytes / (f32Bytes / 4):0.000} bits per element; prefix key {expected}", result.Output, StringComparison.Ordinal);

        ChunkRecordHeader header = ChunkRecord.Parse(File.ReadAllBytes(output)).Header;
        Assert.Equal(expected, header.Key);
        Assert.Equal(ChunkKeyKind.Prefix, header.KeyKind);
        Assert.Equal(0, header.FirstPosition);
        Assert.Equal(file.Fingerprint, header.Fingerprint);
    }

    [Fact]
    public void Without_tokens_from_the_decoded_file_says_its_token_ids_are_unknown()
    {
        string input = PathOf("in.safetensors");
        SyntheticKvFiles.Write(input, SyntheticKvFiles.Layout(), tokens: 7);
        Assert.Equal(0, CliRunner.Run("encode", "--in", input, "--codec", "raw", "--out", PathOf("r.kvt")).ExitCode);

        CliResult result = CliRunner.Run("decode", "--in", PathOf("r.kvt"), "--out", PathOf("out.safetensors"));

        Assert.Equal(0, result.ExitCode);
        Assert.Contains("token ids unknown (written as -1, tokens_known=false)", result.Output, StringComparison.Ordinal);
        SafetensorsFile file = SafetensorsFile.Open(PathOf("out.safetensors"));
        Assert.All(file.ToInt32Array("tokens"), id => Assert.Equal(-1, id));
        Assert.Equal("false", file.Metadata["tokens_known"]);
        ChunkRecordHeader header = ChunkRecord.Parse(File.ReadAllBytes(PathOf("r.kvt"))).Header;
        Assert.Equal(header.Key.ToString(), file.Metadata["chunk_key"]);
        Assert.Equal("prefix", file.Metadata["chunk_key_kind"]);
        Assert.Equal("0", file.Metadata["first_position"]);
        Assert.Equal("raw", file.Metadata["codec"]);
        Assert.Equal("0", file.Metadata["codec_level"]);
        Assert.False(file.Metadata.ContainsKey("prompt"));

        // Such a file cannot be encoded again: no key can be derived without the token ids.
        CliResult again = CliRunner.Run("encode", "--in", PathOf("out.safetensors"), "--codec", "raw", "--out", PathOf("again.kvt"));
        Assert.Equal(1, again.ExitCode);
        Assert.Contains("token ids are unknown", again.Error, StringComparison.Ordinal);
        Assert.False(File.Exists(PathOf("again.kvt")));
    }

    [Fact]
    public void Tokens_from_the_source_file_are_checked_against_the_key_and_written()
    {
        string input = PathOf("in.safetensors");
        KvCacheFileContents original = SyntheticKvFiles.Write(input, SyntheticKvFiles.Layout(), tokens: 9);
        Assert.Equal(0, CliRunner.Run("encode", "--in", input, "--codec", "q8", "--out", PathOf("q.kvt")).ExitCode);

        CliResult result = CliRunner.Run("decode", "--in", PathOf("q.kvt"), "--out", PathOf("out.safetensors"), "--tokens-from", input);

        Assert.Equal(0, result.ExitCode);
        Assert.Contains("token ids written, checked against the key", result.Output, StringComparison.Ordinal);
        KvCacheFileContents decoded = KvCacheFile.Read(PathOf("out.safetensors"));
        Assert.Equal(original.Tokens, decoded.Tokens);
        Assert.Equal(original.Prompt, decoded.Prompt);
        Assert.Equal("true", SafetensorsFile.Open(PathOf("out.safetensors")).Metadata["tokens_known"]);
    }

    [Fact]
    public void Tokens_from_another_sequence_are_refused_and_nothing_is_written()
    {
        string input = PathOf("in.safetensors");
        SyntheticKvFiles.Write(input, SyntheticKvFiles.Layout(), tokens: 9, seed: 1);
        string other = PathOf("other.safetensors");
        SyntheticKvFiles.Write(other, SyntheticKvFiles.Layout(), tokens: 9, seed: 2); // same shape, other token ids
        string shorter = PathOf("shorter.safetensors");
        SyntheticKvFiles.Write(shorter, SyntheticKvFiles.Layout(), tokens: 8);
        Assert.Equal(0, CliRunner.Run("encode", "--in", input, "--codec", "raw", "--out", PathOf("r.kvt")).ExitCode);

        CliResult wrongTokens = CliRunner.Run("decode", "--in", PathOf("r.kvt"), "--out", PathOf("out.safetensors"), "--tokens-from", other);
        CliResult wrongCount = CliRunner.Run("decode", "--in", PathOf("r.kvt"), "--out", PathOf("out.safetensors"), "--tokens-from", shorter);
        CliResult wrongNamespace = CliRunner.Run("decode", "--in", PathOf("r.kvt"), "--out", PathOf("out.safetensors"), "--tokens-from", input, "--namespace", "tenant-a");

        Assert.Equal(1, wrongTokens.ExitCode);
        Assert.Contains("are not this record's tokens", wrongTokens.Error, StringComparison.Ordinal);
        Assert.Equal(1, wrongCount.ExitCode);
        Assert.Contains("has 8 tokens; the record has 9", wrongCount.Error, StringComparison.Ordinal);
        Assert.Equal(1, wrongNamespace.ExitCode);
        Assert.False(File.Exists(PathOf("out.safetensors")));
    }

    [Fact]
    public void A_namespace_changes_the_key_and_decode_checks_it_under_the_same_namespace()
    {
        string input = PathOf("in.safetensors");
        KvCacheFileContents file = SyntheticKvFiles.Write(input, SyntheticKvFiles.Layout(), tokens: 5);

        Assert.Equal(0, CliRunner.Run("encode", "--in", input, "--codec", "raw", "--namespace", "tenant-a", "--out", PathOf("a.kvt")).ExitCode);

        ChunkKey expected = new ChunkKeys(file.Fingerprint, "tenant-a", chunkTokens: 5).PrefixKeys(file.Tokens)[0];
        Assert.Equal(expected, ChunkRecord.Parse(File.ReadAllBytes(PathOf("a.kvt"))).Header.Key);
        Assert.Equal(0, CliRunner.Run("decode", "--in", PathOf("a.kvt"), "--out", PathOf("out.safetensors"), "--tokens-from", input, "--namespace", "tenant-a").ExitCode);
    }

    [Fact]
    public void Bad_codec_or_level_is_a_one_line_error_naming_the_option()
    {
        string input = PathOf("in.safetensors");
        SyntheticKvFiles.Write(input, SyntheticKvFiles.Layout(), tokens: 3);

        CliResult codec = CliRunner.Run("encode", "--in", input, "--codec", "zstd", "--out", PathOf("x.kvt"));
        CliResult level = CliRunner.Run("encode", "--in", input, "--codec", "raw", "--level", "3", "--out", PathOf("x.kvt"));

        Assert.Equal(1, codec.ExitCode);
        Assert.Equal("kvtier: --codec zstd is not a codec; codecs: raw, q8, ans.\n", codec.Error.ReplaceLineEndings("\n"));
        Assert.Equal(1, level.ExitCode);
        Assert.Equal("kvtier: --level 3 is not a level of raw (levels 0 to 0).\n", level.Error.ReplaceLineEndings("\n"));
        Assert.False(File.Exists(PathOf("x.kvt")));
    }

    [Fact]
    public void Writing_is_atomic_an_existing_record_is_replaced_and_a_missing_folder_writes_nothing()
    {
        string input = PathOf("in.safetensors");
        SyntheticKvFiles.Write(input, SyntheticKvFiles.Layout(), tokens: 4);
        string output = PathOf("r.kvt");
        File.WriteAllText(output, "old content");

        Assert.Equal(0, CliRunner.Run("encode", "--in", input, "--codec", "raw", "--out", output).ExitCode);
        ChunkRecord.Parse(File.ReadAllBytes(output)).Decode();
        Assert.Equal(["in.safetensors", "r.kvt"], Directory.GetFiles(_dir).Select(Path.GetFileName).Order(StringComparer.Ordinal));

        string missing = PathOf(Path.Combine("no-such-dir", "r.kvt"));
        CliResult result = CliRunner.Run("encode", "--in", input, "--codec", "raw", "--out", missing);
        Assert.Equal(1, result.ExitCode);
        Assert.Contains("does not exist", result.Error, StringComparison.Ordinal);
        Assert.False(Directory.Exists(PathOf("no-such-dir")));
    }

    [Fact]
    public void Decoding_an_invalid_record_fails_with_its_kind_and_leaves_the_output_untouched()
    {
        string input = PathOf("in.safetensors");
        SyntheticKvFiles.Write(input, SyntheticKvFiles.Layout(), tokens: 4);
        Assert.Equal(0, CliRunner.Run("encode", "--in", input, "--codec", "raw", "--out", PathOf("r.kvt")).ExitCode);
        byte[] r = File.ReadAllBytes(PathOf("r.kvt"));
        r[RecordEditor.SectionOffset(r, 5)] ^= 0x80; // last section's payload
        File.WriteAllBytes(PathOf("r.kvt"), r);
        File.WriteAllText(PathOf("out.safetensors"), "previous");

        CliResult result = CliRunner.Run("decode", "--in", PathOf("r.kvt"), "--out", PathOf("out.safetensors"));

        Assert.Equal(1, result.ExitCode);
        Assert.Contains("SectionChecksum", result.Error, StringComparison.Ordinal);
        Assert.Equal("previous", File.ReadAllText(PathOf("out.safetensors")));
    }

    [Fact]
    public void The_ans_codec_encodes_when_this_build_has_it_and_is_a_clear_error_otherwise()
    {
        string input = PathOf("in.safetensors");
        SyntheticKvFiles.Write(input, SyntheticKvFiles.Layout(), tokens: 6);

        CliResult result = CliRunner.Run("encode", "--in", input, "--out", PathOf("default.kvt")); // ans is the default

        if (VectorGenerator.IsAvailable(ChunkCodecs.Ans))
        {
            Assert.Equal(0, result.ExitCode);
            Assert.Contains(": ans level 2, 6 tokens", result.Output, StringComparison.Ordinal);
            Assert.Equal(0, CliRunner.Run("verify", PathOf("default.kvt")).ExitCode);
        }
        else
        {
            Assert.Equal(1, result.ExitCode);
            Assert.Contains("not available", result.Error, StringComparison.Ordinal);
            Assert.False(File.Exists(PathOf("default.kvt")));
        }
    }

    [RequiresModelFact]
    public void A_model_kv_file_round_trips_through_raw_with_its_tokens_and_the_library_s_key()
    {
        string kv = PathOf("once.safetensors");
        Assert.Equal(0, CliRunner.Run("model", "kv", "--prompt", "Once upon a time", "--steps", "48", "--out", kv).ExitCode);

        CliResult encoded = CliRunner.Run("encode", "--in", kv, "--codec", "raw", "--out", PathOf("once.kvt"));
        CliResult decoded = CliRunner.Run("decode", "--in", PathOf("once.kvt"), "--out", PathOf("back.safetensors"), "--tokens-from", kv);

        Assert.Equal(0, encoded.ExitCode);
        Assert.Equal(0, decoded.ExitCode);
        GenerationResult run = TestModel.NewSession().Generate("Once upon a time", 48);
        int[] fed = [.. run.FedTokens];
        ChunkKey key = new ChunkKeys(TestModel.Model.ModelId, TestModel.Model.Layout, "", chunkTokens: 48).PrefixKeys(fed)[0];
        Assert.Contains($"prefix key {key}", encoded.Output, StringComparison.Ordinal);
        KvCacheFileContents back = KvCacheFile.Read(PathOf("back.safetensors"));
        Assert.Equal(fed, back.Tokens);
        Assert.Equal("Once upon a time", back.Prompt);
        for (int layer = 0; layer < TestModel.Model.Layout.Layers; layer++)
        {
            Assert.True(run.Cache.Keys(layer).SequenceEqual(back.Cache.Keys(layer)));
            Assert.True(run.Cache.Values(layer).SequenceEqual(back.Cache.Values(layer)));
        }
    }
}
