using System.Security.Cryptography;
using System.Text.Json;
using KvTier.Testing;
using Xunit;

namespace KvTier.Cli.Tests;

/// <summary>
/// <c>kvtier prefill --store DIR</c>: a first run computes the prompt and stores its whole chunks; a later run (in this
/// process or another) loads them from the store's disk tier and generates exactly what a run against an empty store
/// generates. Every bad input exits non-zero with a message naming it, before anything is stored.
/// </summary>
public sealed class PrefillCommandTests : IDisposable
{
    private const int ChunkTokens = 16;
    private const string Prompt = "Once upon a time, there was a little girl named Lily. She loved to play outside in the park with her friends.";

    private readonly string _root = Directory.CreateTempSubdirectory("kvtier-cli-prefill-").FullName;

    private string Store => Path.Combine(_root, "store");

    public void Dispose() => Directory.Delete(_root, recursive: true);

    [RequiresModelFact]
    public void A_second_run_reuses_the_stored_chunks_and_generates_as_a_run_against_an_empty_store()
    {
        using JsonDocument first = Prefill(CliRunner.Run, Store);
        int promptTokens = Int(first, "promptTokens");
        int whole = promptTokens / ChunkTokens;
        int reusable = (promptTokens - 1) / ChunkTokens; // the last token is always evaluated: its logits are the result
        Assert.True(reusable >= 2, $"the prompt has {promptTokens} tokens");
        Assert.Equal(0, Int(first, "tokensReused"));
        Assert.Equal(promptTokens, Int(first, "tokensComputed"));
        Assert.Equal(JsonValueKind.Null, first.RootElement.GetProperty("tier").ValueKind);
        Assert.Equal(whole, Int(first, "chunksStored"));
        Assert.Equal(0, Int(first, "chunksPresent"));
        Assert.Equal(promptTokens - whole * ChunkTokens, Int(first, "tokensNotStored"));
        Assert.Empty(first.RootElement.GetProperty("generatedTokens").EnumerateArray());

        // The command opens the store afresh each run, without a memory tier: the chunks come from disk.
        using JsonDocument second = Prefill(CliRunner.Run, Store, "--generate", "16");
        AssertReused(second, promptTokens, reusable * ChunkTokens, whole);

        using JsonDocument third = Prefill(CliRunner.RunProcess, Store, "--generate", "16");
        AssertReused(third, promptTokens, reusable * ChunkTokens, whole);

        using JsonDocument uncached = Prefill(CliRunner.Run, Path.Combine(_root, "empty"), "--generate", "16");
        Assert.Equal(0, Int(uncached, "tokensReused"));
        int[] expected = Tokens(uncached);
        Assert.Equal(16, expected.Length);
        Assert.Equal(expected, Tokens(second));
        Assert.Equal(expected, Tokens(third));
        Assert.Equal(uncached.RootElement.GetProperty("generatedText").GetString(), third.RootElement.GetProperty("generatedText").GetString());
    }

    [RequiresModelFact]
    public void The_text_report_names_what_was_reused_stored_and_generated()
    {
        Assert.Equal(0, CliRunner.Run(Args(Store)).ExitCode);

        CliResult result = CliRunner.Run([.. Args(Store), "--generate", "8"]);

        Assert.True(result.ExitCode == 0, result.Error);
        string[] lines = StoreFixture.Lines(result.Output);
        Assert.StartsWith("# stories260K.gguf (f16 cache, context 256, chunks of 16 tokens), store ", lines[0], StringComparison.Ordinal);
        Assert.Contains(lines, l => l.StartsWith("reused\t32 tokens (2 chunks, tier disk)", StringComparison.Ordinal));
        Assert.Contains(lines, l => l.StartsWith("chunks stored\t0 (2 already present", StringComparison.Ordinal));
        Assert.Contains(lines, l => l.StartsWith("first token ms\t", StringComparison.Ordinal));
        Assert.Contains(lines, l => l.StartsWith("generated (8 tokens)\t", StringComparison.Ordinal));
    }

    public static TheoryData<string, string[], int, string> BadInputs => new()
    {
        { "missing model", ["--model", "/no/such/model.gguf", "--prompt", Prompt, "--store", "{store}"], 2, "--model /no/such/model.gguf: no such file" },
        { "unreadable prompt file", ["--model", "{model}", "--prompt-file", "{root}/no-such-prompt.txt", "--store", "{store}"], 1, "--prompt-file" },
        { "empty prompt", ["--model", "{model}", "--prompt", "", "--store", "{store}"], 1, "--prompt is empty" },
        { "empty prompt file", ["--model", "{model}", "--prompt-file", "{root}/empty.txt", "--store", "{store}"], 1, "the prompt is empty" },
        { "both prompts", ["--model", "{model}", "--prompt", Prompt, "--prompt-file", "{root}/empty.txt", "--store", "{store}"], 1, "--prompt TEXT or --prompt-file FILE" },
        { "prompt longer than the context", ["--model", "{model}", "--prompt", Prompt, "--store", "{store}", "--context", "16"], 1, "longer than the context" },
        { "prompt longer than the model's context", ["--model", "{model}", "--prompt", "{long}", "--store", "{store}"], 1, "longer than the context" },
        { "chunk tokens 0", ["--model", "{model}", "--prompt", Prompt, "--store", "{store}", "--chunk-tokens", "0"], 1, "--chunk-tokens 0" },
        { "chunk tokens absurd", ["--model", "{model}", "--prompt", Prompt, "--store", "{store}", "--chunk-tokens", "100000000"], 1, "--chunk-tokens 100000000" },
        { "chunk larger than the context", ["--model", "{model}", "--prompt", Prompt, "--store", "{store}", "--chunk-tokens", "4096"], 1, "--chunk-tokens 4096" },
        { "negative generate", ["--model", "{model}", "--prompt", Prompt, "--store", "{store}", "--generate", "-1"], 1, "--generate -1" },
        { "generate past the context", ["--model", "{model}", "--prompt", Prompt, "--store", "{store}", "--generate", "100000"], 1, "longer than the context" },
        { "both store and server", ["--model", "{model}", "--prompt", Prompt, "--store", "{store}", "--server", "127.0.0.1:1", "--token-file", "{root}/empty.txt"], 1, "exactly one of them" },
        { "neither store nor server", ["--model", "{model}", "--prompt", Prompt], 1, "--store DIR or --server HOST:PORT" },
        { "server without token file", ["--model", "{model}", "--prompt", Prompt, "--server", "127.0.0.1:1"], 1, "--token-file" },
        { "bad cache type", ["--model", "{model}", "--prompt", Prompt, "--store", "{store}", "--cache-type", "q8_0"], 1, "--cache-type q8_0" },
    };

    [RequiresModelTheory]
    [MemberData(nameof(BadInputs))]
    public void Bad_input_exits_non_zero_naming_the_problem_and_leaves_the_store_unchanged(string name, string[] args, int exitCode, string message)
    {
        File.WriteAllText(Path.Combine(_root, "empty.txt"), "  \n");
        Assert.Equal(0, CliRunner.Run(Args(Store)).ExitCode);
        Dictionary<string, string> before = Snapshot(Store);
        string longPrompt = string.Concat(Enumerable.Repeat("Lily and Ben went to the park to play on the swings. ", 200));
        string[] resolved = [.. args.Select(a => a.Replace("{model}", TestModel.GgufPath, StringComparison.Ordinal)
            .Replace("{store}", Store, StringComparison.Ordinal)
            .Replace("{root}", _root, StringComparison.Ordinal)
            .Replace("{long}", longPrompt, StringComparison.Ordinal))];

        CliResult result = CliRunner.Run(["prefill", .. resolved]);

        Assert.True(result.ExitCode == exitCode, $"{name}: exit {result.ExitCode}, stderr {result.Error}");
        Assert.Contains(message, result.Error, StringComparison.Ordinal);
        Assert.Equal("", result.Output);
        Assert.Equal(before, Snapshot(Store));
    }

    [Fact]
    public void Bad_input_creates_no_store()
    {
        string store = Path.Combine(_root, "never");

        CliResult result = CliRunner.Run("prefill", "--model", Path.Combine(_root, "no-such.gguf"), "--prompt", Prompt, "--store", store);

        Assert.Equal(2, result.ExitCode);
        Assert.Contains("no such file", result.Error, StringComparison.Ordinal);
        Assert.False(Directory.Exists(store));
    }

    [RequiresModelFact]
    public void A_run_whose_chunks_do_not_reach_the_server_fails()
    {
        string tokenFile = Path.Combine(_root, "token");
        File.WriteAllText(tokenFile, "cli-prefill-test-token-0123456789");
        var listener = new System.Net.Sockets.TcpListener(System.Net.IPAddress.Loopback, 0);
        listener.Start();
        int port = ((System.Net.IPEndPoint)listener.LocalEndpoint).Port;
        listener.Stop(); // nothing listens there now: every call is refused

        CliResult result = CliRunner.Run("prefill", "--model", TestModel.GgufPath, "--prompt", Prompt, "--server", $"127.0.0.1:{port}",
            "--token-file", tokenFile, "--chunk-tokens", "16", "--json");

        Assert.Equal(1, result.ExitCode);
        Assert.Contains($"chunks were not written to kvtier://127.0.0.1:{port}", result.Error, StringComparison.Ordinal);
        Assert.Equal("", result.Output);
    }

    private static string[] Args(string store, params string[] more) =>
        ["prefill", "--model", TestModel.GgufPath, "--prompt", Prompt, "--store", store, "--chunk-tokens", "16", .. more];

    private static JsonDocument Prefill(Func<string[], CliResult> run, string store, params string[] more)
    {
        CliResult result = run([.. Args(store, more), "--json"]);
        Assert.True(result.ExitCode == 0, result.Error);
        return JsonDocument.Parse(result.Output);
    }

    private static void AssertReused(JsonDocument run, int promptTokens, int reused, int whole)
    {
        Assert.Equal(promptTokens, Int(run, "promptTokens"));
        Assert.Equal(reused, Int(run, "tokensReused"));
        Assert.Equal(promptTokens - reused, Int(run, "tokensComputed"));
        Assert.Equal(reused / ChunkTokens, Int(run, "chunksReused"));
        Assert.Equal(0, Int(run, "chunksRejected"));
        Assert.Equal("disk", run.RootElement.GetProperty("tier").GetString());
        Assert.Equal(0, Int(run, "chunksStored"));
        Assert.Equal(whole, Int(run, "chunksPresent"));
    }

    private static int Int(JsonDocument json, string name) => json.RootElement.GetProperty(name).GetInt32();

    private static int[] Tokens(JsonDocument json) => [.. json.RootElement.GetProperty("generatedTokens").EnumerateArray().Select(t => t.GetInt32())];

    // Every file of the store: its path and a hash of its bytes.
    private static Dictionary<string, string> Snapshot(string directory) =>
        Directory.EnumerateFiles(directory, "*", SearchOption.AllDirectories)
            .ToDictionary(f => Path.GetRelativePath(directory, f), f => Convert.ToHexString(SHA256.HashData(File.ReadAllBytes(f))));
}
