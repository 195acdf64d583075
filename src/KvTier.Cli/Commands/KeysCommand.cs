using System.CommandLine;
using KvTier.Keys;
using KvTier.Reference;

namespace KvTier.Cli.Commands;

/// <summary><c>kvtier keys</c>: the chunks of a prompt and their keys, as a script-friendly table.</summary>
internal static class KeysCommand
{
    public static Command Create(CliContext context)
    {
        Option<string?> prompt = CommonOptions.Prompt("Text to tokenize with the reference model's tokenizer (BOS first)");
        prompt.Required = true;
        var ns = new Option<string>("--namespace")
        {
            Description = "Tenant namespace bound into every key (at most 255 UTF-8 bytes). Default: \"\" (shared)",
            DefaultValueFactory = _ => string.Empty,
            HelpName = "NS",
        };
        Option<int> chunkTokens = CommonOptions.ChunkTokens(ChunkKeys.DefaultChunkTokens);
        var command = new Command("keys", "Print the chunks of a prompt's tokens with their prefix and segment keys (format-spec/key-derivation.md)")
        {
            prompt, ns, chunkTokens,
        };
        command.SetAction(parse => context.Guard(() =>
        {
            LlamaModel llama = CommonOptions.LoadModel(parse);
            int[] tokens = llama.Tokenizer.Encode(parse.GetValue(prompt)!);
            var keys = new ChunkKeys(llama.ModelId, llama.Layout, parse.GetValue(ns)!, parse.GetValue(chunkTokens));
            ChunkKey[] prefix = keys.PrefixKeys(tokens);
            ChunkKey[] segment = keys.SegmentKeys(tokens);

            TextWriter o = context.Output;
            o.WriteLine($"# model {llama.ModelId} fingerprint {keys.Fingerprint} namespace \"{keys.Namespace}\" chunk-tokens {keys.ChunkTokens} tokens {tokens.Length}");
            o.WriteLine("# chunk\tstart\tcount\tkind\tprefix-key\tsegment-key");
            foreach (TokenChunk chunk in keys.Split(tokens.Length))
                o.WriteLine($"{chunk.Index}\t{chunk.Start}\t{chunk.Count}\t{(chunk.IsPartial ? "partial" : "full")}\t{prefix[chunk.Index]}\t{segment[chunk.Index]}");
            return KvTierCli.Success;
        }));
        return command;
    }
}
