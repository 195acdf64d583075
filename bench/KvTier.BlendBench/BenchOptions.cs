using System.Globalization;

namespace KvTier.BlendBench;

/// <summary>Command-line options.</summary>
internal sealed record BenchOptions(int Cases, int Documents, int PerPrompt, int DocumentTokens, int Steps, int Seed, string Out, string? Models)
{
    public static BenchOptions Parse(string[] args)
    {
        var o = new BenchOptions(48, 12, 4, 64, 32, 6, "bench/results", null);
        for (int i = 0; i < args.Length; i++)
        {
            string value = i + 1 < args.Length ? args[i + 1] : throw new ArgumentException($"{args[i]} needs a value.");
            o = args[i] switch
            {
                "--cases" => o with { Cases = Int(value) },
                "--documents" => o with { Documents = Int(value) },
                "--per-prompt" => o with { PerPrompt = Int(value) },
                "--document-tokens" => o with { DocumentTokens = Int(value) },
                "--steps" => o with { Steps = Int(value) },
                "--seed" => o with { Seed = Int(value) },
                "--out" => o with { Out = value },
                "--models" => o with { Models = value },
                _ => throw new ArgumentException($"Unknown option {args[i]}."),
            };
            i++;
        }

        if (o.PerPrompt > o.Documents)
            throw new ArgumentException($"--per-prompt ({o.PerPrompt}) exceeds --documents ({o.Documents}).");
        return o;
    }

    private static int Int(string value) => int.Parse(value, NumberStyles.Integer, CultureInfo.InvariantCulture);
}
