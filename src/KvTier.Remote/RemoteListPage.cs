using KvTier.Storage;

namespace KvTier.Remote;

/// <summary>One page of a server's records in key order (format-spec/protocol.md §7.8).</summary>
/// <param name="Entries">The records of this page, as the server's store lists them.</param>
/// <param name="More">Whether records follow the last one of this page.</param>
public sealed record RemoteListPage(IReadOnlyList<StoredEntry> Entries, bool More);
