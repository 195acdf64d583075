using KvTier.Keys;
using KvTier.Layout;

namespace KvTier.Reference;

/// <summary>What <see cref="KvCacheFile.Read(string)"/> found in a KV-cache file.</summary>
/// <param name="Fingerprint">Model id and layout, checked against the file's fingerprint field.</param>
/// <param name="Tokens">The token fed at each position.</param>
/// <param name="Cache">Keys (after RoPE) and values, one row per token.</param>
/// <param name="Prompt">The prompt text, when the file records one.</param>
public sealed record KvCacheFileContents(ModelFingerprint Fingerprint, int[] Tokens, KvCache Cache, string? Prompt)
{
    /// <summary>The model id.</summary>
    public string ModelId => Fingerprint.ModelId;

    /// <summary>The KV layout.</summary>
    public KvLayout Layout => Fingerprint.Layout;
}
