using SharpFuzz;

namespace KvTier.Fuzz;

/// <summary>
/// <c>kvtier-fuzz TARGET</c>: runs TARGET under afl-fuzz (SharpFuzz's out-of-process loop; outside
/// AFL it runs one input from standard input). <c>kvtier-fuzz TARGET FILE</c> replays one input, such
/// as a crash from fuzz/findings/. <c>kvtier-fuzz seeds TARGET DIR</c> writes the target's seed corpus.
/// </summary>
internal static class Program
{
    // Adding a target is one line here plus its class.
    private static readonly Dictionary<string, FuzzTarget> Targets = new(StringComparer.Ordinal)
    {
        ["safetensors"] = SafetensorsTarget.Target,
        ["checkpoint"] = CheckpointTarget.Target,
        ["tokenizer"] = TokenizerTarget.Target,
        ["kv-cache"] = KvCacheFileTarget.Target,
        ["chunk-record"] = ChunkRecordTarget.Target,
        ["segment"] = SegmentTarget.Target,
        ["frame"] = FrameTarget.Target,
        ["llama-state"] = LlamaStateTarget.Target,
    };

    private static int Main(string[] args)
    {
        if (args is ["seeds", string seedTarget, string directory] && Targets.TryGetValue(seedTarget, out FuzzTarget? seeded))
        {
            Directory.CreateDirectory(directory);
            foreach ((string name, byte[] bytes) in seeded.Seeds())
                File.WriteAllBytes(Path.Combine(directory, name), bytes);
            return 0;
        }
        if (args is [string replayTarget, string file] && Targets.TryGetValue(replayTarget, out FuzzTarget? replayed))
        {
            // Through SharpFuzz's runner, which outside afl-fuzz runs the action once over a private trace buffer: the
            // instrumented assemblies in fuzz/out write coverage to that buffer, and without one they fault.
            byte[] input = File.ReadAllBytes(file);
            Fuzzer.OutOfProcess.Run(_ => replayed.Run(input));
            Console.WriteLine("No crash.");
            return 0;
        }
        if (args is [string fuzzTarget] && Targets.TryGetValue(fuzzTarget, out FuzzTarget? target))
        {
            Fuzzer.OutOfProcess.Run(stream => target.Run(ReadAll(stream)));
            return 0;
        }

        Console.Error.WriteLine($"usage: kvtier-fuzz TARGET [FILE] | kvtier-fuzz seeds TARGET DIR\ntargets: {string.Join(", ", Targets.Keys)}");
        return 2;
    }

    private static byte[] ReadAll(Stream stream)
    {
        using var buffer = new MemoryStream();
        stream.CopyTo(buffer);
        return buffer.ToArray();
    }
}
