using System.CommandLine;
using System.Globalization;
using KvTier.Format.Codecs;

namespace KvTier.Cli.Commands;

/// <summary><c>kvtier codecs</c>: the codecs of the chunk record format, one tab-separated line each.</summary>
internal static class CodecsCommand
{
    public static Command Create(CliContext context)
    {
        var command = new Command("codecs",
            "List the chunk record codecs (format-spec/kvtier-format.md §7-§9), tab-separated: name, id, levels, default level, lossless, description; '#' lines are comments");
        command.SetAction(_ => context.Guard(() =>
        {
            TextWriter o = context.Output;
            o.WriteLine("# name\tid\tlevels\tdefault\tlossless\tdescription");
            foreach (CodecInfo codec in ChunkCodecs.All)
            {
                string levels = codec.MinLevel == codec.MaxLevel
                    ? codec.MinLevel.ToString(CultureInfo.InvariantCulture)
                    : string.Create(CultureInfo.InvariantCulture, $"{codec.MinLevel}-{codec.MaxLevel}");
                o.WriteLine(string.Create(CultureInfo.InvariantCulture,
                    $"{codec.Name}\t{(int)codec.Id}\t{levels}\t{codec.DefaultLevel}\t{(codec.Lossless ? "yes" : "no")}\t{codec.Description}"));
            }

            o.WriteLine($"# default codec: {ChunkCodecs.Default.Name} (what encode uses without --codec)");
            return KvTierCli.Success;
        }));
        return command;
    }
}
