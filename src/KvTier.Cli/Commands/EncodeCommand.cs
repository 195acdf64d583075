using System.CommandLine;
using System.Globalization;
using KvTier.Cli.Records;
using KvTier.Format.Codecs;
using KvTier.Layout;

namespace KvTier.Cli.Commands;

/// <summary><c>kvtier encode</c>: a KV-cache safetensors file (all its tokens) as one chunk record.</summary>
internal static class EncodeCommand
{
    public static Command Create(CliContext context)
    {
        var input = new Option<FileInfo>("--in")
        {
            Description = "A KV-cache safetensors file, as `kvtier model kv` writes (format-spec/kv-safetensors.md)",
            Required = true,
            HelpName = "KV.safetensors",
        };
        var output = new Option<FileInfo>("--out") { Description = "The chunk record to write (replaced atomically if it exists)", Required = true, HelpName = "CHUNK.kvt" };
        var codec = new Option<string>("--codec")
        {
            Description = $"Codec: {string.Join(", ", ChunkCodecs.All.Select(c => c.Name))} (see `kvtier codecs`). Default: {ChunkCodecs.Default.Name}",
            DefaultValueFactory = _ => ChunkCodecs.Default.Name,
            HelpName = "NAME",
        };
        var level = new Option<int?>("--level") { Description = "Codec level. Default: the codec's default level", HelpName = "N" };
        var ns = new Option<string>("--namespace")
        {
            Description = "Tenant namespace of the record's key. Default: \"\" (shared)",
            DefaultValueFactory = _ => string.Empty,
            HelpName = "NS",
        };
        var command = new Command("encode",
            "Encode all tokens of a KV-cache file as one chunk record in its layout's element type, keyed by the prefix key of the whole "
            + "token sequence taken as one chunk (namespace \"\" unless --namespace; key-derivation.md), first position 0")
        {
            input, output, codec, level, ns,
        };
        command.SetAction(parse => context.Guard(() =>
        {
            string name = parse.GetValue(codec)!;
            if (!ChunkCodecs.TryParse(name, out CodecInfo? info))
                throw new ArgumentException($"--codec {name} is not a codec; codecs: {string.Join(", ", ChunkCodecs.All.Select(c => c.Name))}.");
            int lvl = parse.GetValue(level) ?? info.DefaultLevel;
            if (!info.HasLevel(lvl))
                throw new ArgumentException($"--level {lvl} is not a level of {info.Name} (levels {info.MinLevel} to {info.MaxLevel}).");

            EncodeResult r = ChunkFiles.Encode(parse.GetValue(input)!.FullName, parse.GetValue(output)!.FullName, info, lvl, parse.GetValue(ns)!);
            string rounded = r.RoundedValues == 0 ? "" : string.Create(CultureInfo.InvariantCulture, $"; {r.RoundedValues} input values rounded to {LayoutNames.Of(r.Layout.ElementType)}");
            context.Output.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"{r.Path}: {r.Codec.Name} level {r.Level}, {r.Tokens} tokens, {r.Layout.Layers} layers x K,V x {r.Layout.KvDim} {LayoutNames.Of(r.Layout.ElementType)}; "
                + $"{r.RawFloat32Bytes} f32 bytes -> {r.RecordBytes} record bytes ({(double)r.RawFloat32Bytes / r.RecordBytes:0.00}x), {r.BitsPerElement:0.000} bits per element; "
                + $"prefix key {r.Key}{rounded}"));
            return KvTierCli.Success;
        }));
        return command;
    }
}
