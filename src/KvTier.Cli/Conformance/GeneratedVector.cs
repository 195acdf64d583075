namespace KvTier.Cli.Conformance;

/// <summary>A conformance vector as the generator made it: its manifest entry and its bytes.</summary>
/// <param name="Entry">The manifest entry (its <see cref="ConformanceVector.Sha256"/> is of <paramref name="Bytes"/>).</param>
/// <param name="Bytes">The record file's content.</param>
internal sealed record GeneratedVector(ConformanceVector Entry, byte[] Bytes);
