using System.CommandLine;
using KvTier.Keys;
using KvTier.Reference;

namespace KvTier.Cli.Commands;

/// <summary><c>kvtier model generate|kv</c>: run the reference model.</summary>
internal static class ModelCommand
{
    private const int DefaultSteps = 256;

    public static Command Create(CliContext context)
    {
        var model = new Command("model", "Run the reference model (stories260K)");
        model.Subcommands.Add(CreateGenerate(context));
        model.Subcommands.Add(CreateKv(context));
        return model;
    }

    private static Command CreateGenerate(CliContext context)
    {
        Option<string?> prompt = CommonOptions.Prompt("Prompt text; omit for BOS alone");
        Option<int> steps = CommonOptions.Steps(DefaultSteps);
        var command = new Command("generate", "Print the greedy continuation exactly as llama2.c's run prints it") { prompt, steps };
        command.SetAction(parse => context.Guard(() =>
        {
            LlamaModel llama = CommonOptions.LoadModel(parse);
            LlamaSession session = llama.CreateSession();
            // Stream each piece as llama2.c does; the bytes are UTF-8 and may split a character, so decode incrementally.
            var decoder = System.Text.Encoding.UTF8.GetDecoder();
            var chars = new char[64];
            foreach (GenerationStep step in session.GenerateSteps(parse.GetValue(prompt), parse.GetValue(steps)))
            {
                ReadOnlySpan<byte> piece = step.Printed.Span;
                if (chars.Length < piece.Length + 4)
                    chars = new char[piece.Length + 4];
                int count = decoder.GetChars(piece, chars, flush: false);
                context.Output.Write(chars, 0, count);
            }

            context.Output.Write('\n');
            context.Output.Flush();
            return KvTierCli.Success;
        }));
        return command;
    }

    private static Command CreateKv(CliContext context)
    {
        Option<string?> prompt = CommonOptions.Prompt("Prompt text; omit for BOS alone");
        Option<int> steps = CommonOptions.Steps(DefaultSteps);
        var output = new Option<FileInfo>("--out")
        {
            Description = "The safetensors file to write (replaced atomically if it exists)",
            Required = true,
            HelpName = "FILE",
        };
        var command = new Command("kv", "Write the KV cache of a greedy run as a safetensors file (format-spec/kv-safetensors.md)") { prompt, steps, output };
        command.SetAction(parse => context.Guard(() =>
        {
            LlamaModel llama = CommonOptions.LoadModel(parse);
            string? text = parse.GetValue(prompt);
            GenerationResult run = llama.CreateSession().Generate(text, parse.GetValue(steps));
            var fingerprint = ModelFingerprint.Compute(llama.ModelId, llama.Layout);
            string path = parse.GetValue(output)!.FullName;
            int[] tokens = [.. run.FedTokens];
            KvCacheFile.Write(path, fingerprint, tokens, run.Cache, string.IsNullOrEmpty(text) ? null : text);
            long bytes = new FileInfo(path).Length;
            context.Output.WriteLine(
                $"{path}: {tokens.Length} tokens, {llama.Layout.Layers} layers x K,V [{tokens.Length}, {llama.Layout.KvDim}] f32, {bytes} bytes, fingerprint {fingerprint}");
            return KvTierCli.Success;
        }));
        return command;
    }
}
