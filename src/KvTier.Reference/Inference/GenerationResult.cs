using System.Text;

namespace KvTier.Reference;

/// <summary>The outcome of greedy generation with <see cref="LlamaSession.Generate"/>.</summary>
/// <remarks>Immutable apart from <see cref="Cache"/>, which is the caller's own copy.</remarks>
public sealed class GenerationResult
{
    private readonly byte[] _output;

    internal GenerationResult(int[] promptTokens, int[] fedTokens, int? finalToken, byte[] output, KvCache cache)
    {
        PromptTokens = promptTokens;
        FedTokens = fedTokens;
        FinalToken = finalToken;
        _output = output;
        Cache = cache;
    }

    /// <summary>The prompt as encoded, starting with BOS.</summary>
    public IReadOnlyList<int> PromptTokens { get; }

    /// <summary>The token fed at each position computed, position 0 first; one per entry of <see cref="Cache"/>.</summary>
    public IReadOnlyList<int> FedTokens { get; }

    /// <summary>The token chosen at the last position (printed but never fed); null when generation stopped because BOS came next.</summary>
    public int? FinalToken { get; }

    /// <summary>True when generation ended early because the next token was BOS.</summary>
    public bool StoppedAtBos => FinalToken is null;

    /// <summary>Exactly the bytes llama2.c's <c>run</c> writes to stdout, ending with its final newline.</summary>
    public ReadOnlyMemory<byte> Output => _output;

    /// <summary><see cref="Output"/> decoded as UTF-8.</summary>
    public string Text => Encoding.UTF8.GetString(_output);

    /// <summary>A copy of the session's KV cache after the last position: one row per entry of <see cref="FedTokens"/>.</summary>
    public KvCache Cache { get; }
}
