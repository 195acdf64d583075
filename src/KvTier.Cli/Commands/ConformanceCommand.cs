using System.CommandLine;
using System.Globalization;
using KvTier.Cli.Conformance;
using KvTier.Cli.Records;
using KvTier.Format.Codecs;

namespace KvTier.Cli.Commands;

/// <summary>
/// <c>kvtier conformance run|generate|decode</c>: the chunk record conformance vectors (format-spec/vectors/):
/// run a decoder over them, regenerate them, or decode one the way the runner calls an external decoder.
/// </summary>
internal static class ConformanceCommand
{
    private const int DefaultTimeoutSeconds = 60;

    public static Command Create(CliContext context)
    {
        // `kvtier conformance --decoder "COMMAND"` and `kvtier conformance run --decoder "COMMAND"` do the same.
        var command = new Command("conformance", "Chunk record conformance vectors (format-spec/vectors/README.md); without a subcommand, the same as `run`");
        AddRun(context, command);
        var run = new Command("run",
            "Run a decoder over every vector of the manifest and print a tab-separated PASS/FAIL table (result, vector, expected, got) "
            + "and a summary line; exit 0 when every vector passes, 1 otherwise");
        AddRun(context, run);
        command.Subcommands.Add(run);
        command.Subcommands.Add(CreateGenerate(context));
        command.Subcommands.Add(CreateDecode(context));
        return command;
    }

    /// <summary>Gives <paramref name="command"/> the options and action of a conformance run.</summary>
    private static void AddRun(CliContext context, Command command)
    {
        var vectors = new Option<DirectoryInfo?>("--vectors")
        {
            Description = $"The folder holding manifest.json. Default: {VectorDirectory.RelativePath} above the working directory or this program",
            HelpName = "DIR",
        };
        var decoder = new Option<string?>("--decoder")
        {
            Description = "A decoder to test, called once per vector as `COMMAND IN.kvt OUT.safetensors` (COMMAND split on whitespace, "
                + "'single' or \"double\" quotes group words, no shell). It must exit 0 and write a KV-cache safetensors file (F32 "
                + "layers.{l}.k / layers.{l}.v [tokens, kv_dim]) for a valid record, and exit non-zero without writing OUT for an invalid one. "
                + "Default: this kvtier's own decode, in-process, which must also report exactly each vector's error kind",
            HelpName = "COMMAND",
        };
        var timeout = new Option<int>("--timeout")
        {
            Description = $"Seconds one external decoder run may take. Default: {DefaultTimeoutSeconds}",
            DefaultValueFactory = _ => DefaultTimeoutSeconds,
            HelpName = "SECONDS",
        };
        command.Options.Add(vectors);
        command.Options.Add(decoder);
        command.Options.Add(timeout);
        command.SetAction(parse => context.Guard(() =>
        {
            int seconds = parse.GetValue(timeout);
            if (seconds < 1)
                throw new ArgumentException($"--timeout {seconds} must be at least 1 second.");
            string dir = parse.GetValue(vectors)?.FullName ?? VectorDirectory.Locate();
            return ConformanceRunner.Run(context.Output, dir, parse.GetValue(decoder), TimeSpan.FromSeconds(seconds));
        }));
    }

    private static Command CreateGenerate(CliContext context)
    {
        var dir = new Argument<DirectoryInfo>("DIR") { Description = "Where to write valid/, invalid/ and manifest.json (created if missing)" };
        var command = new Command("generate",
            "Regenerate the conformance vectors deterministically (no model needed): the same build writes the same bytes. "
            + "Replaces *.kvt files under DIR/valid and DIR/invalid and DIR/manifest.json; codecs this build lacks are left out")
        {
            dir,
        };
        command.SetAction(parse => context.Guard(() =>
        {
            string path = parse.GetValue(dir)!.FullName;
            IReadOnlyList<GeneratedVector> generated = VectorGenerator.Generate();
            VectorWriter.Write(path, generated);
            int valid = generated.Count(v => v.Entry.Expect.ExpectsDecode);
            long bytes = generated.Sum(v => (long)v.Bytes.Length);
            string[] codecs = [.. ChunkCodecs.All.Where(VectorGenerator.IsAvailable).Select(c => c.Name)];
            context.Output.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"{path}: {generated.Count} vectors ({valid} valid, {generated.Count - valid} invalid), {bytes} bytes, and {ConformanceManifest.FileName}; codecs: {string.Join(", ", codecs)}"));
            foreach (CodecInfo missing in ChunkCodecs.All.Where(c => !VectorGenerator.IsAvailable(c)))
                context.Output.WriteLine($"note: this build has no {missing.Name} codec; its vectors were left out");
            return KvTierCli.Success;
        }));
        return command;
    }

    private static Command CreateDecode(CliContext context)
    {
        var input = new Argument<FileInfo>("IN") { Description = "The chunk record" };
        var output = new Argument<FileInfo>("OUT") { Description = "The KV-cache safetensors file to write" };
        var command = new Command("decode",
            "Decode IN to OUT exactly as `kvtier decode --in IN --out OUT` does (token ids unknown), with the argument order "
            + "`conformance run --decoder` uses: `kvtier conformance decode` is itself a valid --decoder")
        {
            input, output,
        };
        command.SetAction(parse => context.Guard(() =>
        {
            DecodeResult r = ChunkFiles.Decode(parse.GetValue(input)!.FullName, parse.GetValue(output)!.FullName, tokensFrom: null, @namespace: "");
            context.Output.WriteLine(DecodeCommand.Describe(r));
            return KvTierCli.Success;
        }));
        return command;
    }
}
