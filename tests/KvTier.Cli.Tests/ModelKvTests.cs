using System.Buffers.Binary;
using System.Text.Json;
using KvTier.Keys;
using KvTier.Reference;
using KvTier.Tensors;
using KvTier.Testing;
using Xunit;

namespace KvTier.Cli.Tests;

/// <summary><c>kvtier model kv</c> writes the run's KV cache as a valid safetensors file.</summary>
public sealed class ModelKvTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("kvtier-kv-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [RequiresModelFact]
    public void Writes_one_f32_tensor_per_layer_and_kind_with_the_run_s_exact_kv()
    {
        string path = Path.Combine(_dir, "once.safetensors");

        CliResult result = CliRunner.Run("model", "kv", "--prompt", "Once upon a time", "--steps", "40", "--out", path);

        Assert.Equal(0, result.ExitCode);
        Assert.Contains(path, result.Output, StringComparison.Ordinal);
        GenerationResult expected = TestModel.NewSession().Generate("Once upon a time", 40);
        LlamaModel model = TestModel.Model;

        SafetensorsFile file = SafetensorsFile.Open(path);
        Assert.Equal(1 + 2 * model.Config.Layers, file.Tensors.Count);
        Assert.Equal(expected.FedTokens, file.ToInt32Array("tokens"));
        for (int layer = 0; layer < model.Config.Layers; layer++)
        {
            foreach ((string name, float[] values) in new[]
            {
                ($"layers.{layer}.k", expected.Cache.Keys(layer).ToArray()),
                ($"layers.{layer}.v", expected.Cache.Values(layer).ToArray()),
            })
            {
                SafetensorsTensorInfo tensor = file.GetTensor(name);
                Assert.Equal(SafetensorsDType.F32, tensor.DType);
                Assert.Equal([40L, model.Config.KvDim], tensor.Shape.ToArray());
                Assert.Equal(values, file.ToFloat32Array(name));
            }
        }

        Assert.Equal("stories260K", file.Metadata["model_id"]);
        Assert.Equal(ModelFingerprint.Compute(model.ModelId, model.Layout).ToString(), file.Metadata["fingerprint"]);
        Assert.Equal("Once upon a time", file.Metadata["prompt"]);

        KvCacheFileContents contents = KvCacheFile.Read(path);
        Assert.Equal(model.Layout, contents.Layout);
        Assert.Equal(40, contents.Cache.Length);
    }

    [RequiresModelFact]
    public void The_header_follows_the_safetensors_format_as_written()
    {
        // Checked by hand against the format, independently of KvTier's own reader.
        string path = Path.Combine(_dir, "bos.safetensors");
        Assert.Equal(0, CliRunner.Run("model", "kv", "--steps", "7", "--out", path).ExitCode);
        byte[] bytes = File.ReadAllBytes(path);

        long headerLength = BinaryPrimitives.ReadInt64LittleEndian(bytes);
        Assert.Equal(0, (8 + headerLength) % 8);
        using JsonDocument header = JsonDocument.Parse(bytes.AsMemory(8, (int)headerLength));
        long expectedBegin = 0;
        int tensors = 0;
        foreach (JsonProperty entry in header.RootElement.EnumerateObject())
        {
            if (entry.Name == "__metadata__")
            {
                Assert.Equal("kvtier.kv-cache.v1", entry.Value.GetProperty("format").GetString());
                Assert.Equal("5", entry.Value.GetProperty("layers").GetString());
                Assert.Equal("true", entry.Value.GetProperty("keys_after_rope").GetString());
                continue;
            }

            tensors++;
            long[] offsets = entry.Value.GetProperty("data_offsets").EnumerateArray().Select(e => e.GetInt64()).ToArray();
            long[] shape = entry.Value.GetProperty("shape").EnumerateArray().Select(e => e.GetInt64()).ToArray();
            string dtype = entry.Value.GetProperty("dtype").GetString()!;
            Assert.Equal(entry.Name == "tokens" ? "I32" : "F32", dtype);
            Assert.Equal(entry.Name == "tokens" ? [7L] : [7L, 32L], shape);
            Assert.Equal(expectedBegin, offsets[0]);
            Assert.Equal(shape.Aggregate(4L, (a, b) => a * b), offsets[1] - offsets[0]);
            expectedBegin = offsets[1];
        }

        Assert.Equal(11, tensors);
        Assert.Equal(bytes.Length, 8 + headerLength + expectedBegin);
        // BOS alone: the first fed token is 1.
        Assert.Equal(1, BinaryPrimitives.ReadInt32LittleEndian(bytes.AsSpan((int)(8 + headerLength))));
    }

    [RequiresModelFact]
    public void A_missing_out_option_is_a_usage_error_and_writes_nothing()
    {
        CliResult result = CliRunner.Run("model", "kv", "--steps", "8");

        Assert.NotEqual(0, result.ExitCode);
        Assert.Contains("--out", result.Error, StringComparison.Ordinal);
        Assert.Empty(Directory.GetFiles(_dir));
    }

    [RequiresModelFact]
    public void An_unwritable_destination_is_a_one_line_error()
    {
        string path = Path.Combine(_dir, "no-such-dir", "x.safetensors");

        CliResult result = CliRunner.Run("model", "kv", "--steps", "8", "--out", path);

        Assert.Equal(1, result.ExitCode);
        Assert.StartsWith("kvtier: ", result.Error, StringComparison.Ordinal);
        Assert.False(File.Exists(path));
    }
}
