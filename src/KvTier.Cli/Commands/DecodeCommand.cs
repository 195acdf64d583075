using System.CommandLine;
using System.Globalization;
using KvTier.Cli.Records;
using KvTier.Format;
using KvTier.Format.Codecs;
using KvTier.Layout;

namespace KvTier.Cli.Commands;

/// <summary><c>kvtier decode</c>: a chunk record back to a KV-cache safetensors file.</summary>
internal static class DecodeCommand
{
    public static Command Create(CliContext context)
    {
        var input = new Option<FileInfo>("--in") { Description = "The chunk record to decode", Required = true, HelpName = "CHUNK.kvt" };
        var output = new Option<FileInfo>("--out")
        {
            Description = "The KV-cache safetensors file to write (format-spec/kv-safetensors.md; replaced atomically, untouched when the record is invalid)",
            Required = true,
            HelpName = "KV.safetensors",
        };
        var tokensFrom = new Option<FileInfo?>("--tokens-from")
        {
            Description = "A KV-cache file whose token ids (and prompt) to write; it must have the record's model fingerprint and token count, "
                + "and its tokens must give the record's key (checked for segment keys and for prefix keys at position 0). "
                + "Without it the `tokens` tensor holds -1 at every position and the metadata says tokens_known=false: a record carries no token ids",
            HelpName = "KV.safetensors",
        };
        var ns = new Option<string>("--namespace")
        {
            Description = "Namespace under which the record's key is checked against --tokens-from. Default: \"\"",
            DefaultValueFactory = _ => string.Empty,
            HelpName = "NS",
        };
        var command = new Command("decode",
            "Decode a chunk record into a KV-cache safetensors file: the record's element values widened to f32 (raw round-trips bit for bit), "
            + "metadata tokens_known, chunk_key, chunk_key_kind, first_position, codec, codec_level; token ids from --tokens-from, else -1")
        {
            input, output, tokensFrom, ns,
        };
        command.SetAction(parse => context.Guard(() =>
        {
            DecodeResult r = ChunkFiles.Decode(parse.GetValue(input)!.FullName, parse.GetValue(output)!.FullName, parse.GetValue(tokensFrom)?.FullName, parse.GetValue(ns)!);
            context.Output.WriteLine(Describe(r));
            return KvTierCli.Success;
        }));
        return command;
    }

    internal static string Describe(DecodeResult r)
    {
        ChunkRecordHeader h = r.Header;
        string tokens = r.KeyCheck switch
        {
            KeyCheck.Matched => "token ids written, checked against the key",
            KeyCheck.NotCheckable => "token ids written, not checkable against a prefix key past position 0",
            _ => "token ids unknown (written as -1, tokens_known=false)",
        };
        return string.Create(CultureInfo.InvariantCulture,
            $"{r.Path}: {h.TokenCount} tokens (positions {h.FirstPosition}..{(long)h.FirstPosition + h.TokenCount - 1}), {h.Layout.Layers} layers x K,V x {h.Layout.KvDim} "
            + $"from {ChunkCodecs.Get(h.Codec).Name} level {h.Level} ({LayoutNames.Of(h.Layout.ElementType)}); {tokens}");
    }
}
