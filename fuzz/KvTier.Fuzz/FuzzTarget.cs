namespace KvTier.Fuzz;

/// <summary>
/// One fuzz target: <see cref="Run"/> feeds untrusted bytes to a KvTier reader and lets every
/// exception except <see cref="KvTierFormatException"/> escape, so that AFL records it as a crash;
/// <see cref="Seeds"/> builds the small valid inputs of its starting corpus, deterministically.
/// </summary>
internal sealed record FuzzTarget(Action<byte[]> Run, Func<IEnumerable<(string Name, byte[] Bytes)>> Seeds);
