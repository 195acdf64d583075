using LLama;

namespace KvTier.Cli.Llama;

/// <summary>How the <c>kvtier</c> commands that run llama.cpp (the demo's walk-through, <c>kvtier prefill</c>) set it up.</summary>
/// <remarks>Stateless; safe from any thread.</remarks>
internal static class LlamaRuntime
{
    /// <summary>
    /// llama.cpp threads: half the cores, 1 to 8. Its threads wait for each other in spin barriers, and one of them
    /// preempted by another process (or by the prefetcher's decoders) stalls every evaluation for a scheduler slice: on a
    /// 2-core machine, 2 threads made evaluations of the same tokens vary 1–10x; 1 thread does not.
    /// </summary>
    public static int Threads => Math.Clamp(Environment.ProcessorCount / 2, 1, 8);

    /// <summary>The text of <paramref name="tokens"/> as the context's model spells them.</summary>
    public static string Text(LLamaContext context, IEnumerable<int> tokens)
    {
        var decoder = new StreamingTokenDecoder(context);
        foreach (int token in tokens)
            decoder.Add(token);
        return decoder.Read();
    }
}
