using KvTier.Format;

namespace KvTier.Cli.Records;

/// <summary>What <see cref="ChunkFiles.Decode"/> wrote.</summary>
/// <param name="Path">The safetensors file, full path.</param>
/// <param name="Header">The record's header.</param>
/// <param name="KeyCheck">Whether the token ids written were checked against the record's key.</param>
internal sealed record DecodeResult(string Path, ChunkRecordHeader Header, KeyCheck KeyCheck);
