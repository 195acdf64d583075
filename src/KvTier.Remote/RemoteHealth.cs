namespace KvTier.Remote;

/// <summary>A server's answer to a health request (format-spec/protocol.md §7.7).</summary>
/// <param name="ProtocolVersion">The protocol version the connection speaks.</param>
/// <param name="Accepting">Whether the server takes new requests (false while it shuts down).</param>
/// <param name="Uptime">How long the server has run.</param>
/// <param name="Entries">Records in its store.</param>
public sealed record RemoteHealth(ushort ProtocolVersion, bool Accepting, TimeSpan Uptime, long Entries);
