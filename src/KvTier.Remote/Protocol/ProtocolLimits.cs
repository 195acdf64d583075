namespace KvTier.Remote.Protocol;

/// <summary>The protocol's fixed limits and versions (format-spec/protocol.md §3.2 and §4). Every reader checks them before it allocates.</summary>
public static class ProtocolLimits
{
    /// <summary>The oldest protocol version this code speaks.</summary>
    public const ushort MinVersion = 1;

    /// <summary>The newest protocol version this code speaks.</summary>
    public const ushort MaxVersion = 2;

    /// <summary>The first protocol version with bulk lanes (§12): its welcome carries a bulk session token.</summary>
    public const ushort BulkLaneVersion = 2;

    /// <summary>Bytes of a bulk session token (§12.1).</summary>
    public const int BulkTokenSize = 32;

    /// <summary>The most bulk lanes one connection may have attached at once, whatever a server's options say (§12.1).</summary>
    public const int MaxBulkLanes = 64;

    /// <summary>Bytes of the head before every body on a bulk lane (§12.3).</summary>
    public const int LaneBodyHeaderSize = 16;

    /// <summary>Bytes of a frame header (§3.1).</summary>
    public const int FrameHeaderSize = 12;

    /// <summary>The largest frame payload any peer accepts: 1 MiB (§3.2). Bodies larger than this travel as several data frames.</summary>
    public const int MaxFramePayload = 1 << 20;

    /// <summary>The largest handshake frame payload: 256 bytes (§4); a larger one closes the connection.</summary>
    public const int MaxHandshakePayload = 256;

    /// <summary>The most keys in one contains or longest-prefix request (§7.3).</summary>
    public const int MaxKeysPerLookup = 4096;

    /// <summary>The most entries in one list reply (§7.8).</summary>
    public const int MaxListPage = 1024;

    /// <summary>The longest record any server accepts, whatever its options: 1 GiB (§7.1).</summary>
    public const long MaxRecordBytes = 1L << 30;

    /// <summary>The longest error message in an error frame, in UTF-8 bytes (§8).</summary>
    public const int MaxErrorMessageBytes = 1024;

    /// <summary>Bytes of the random nonces of the handshake (§5).</summary>
    public const int NonceSize = 32;

    /// <summary>Bytes of an HMAC-SHA256 proof (§5).</summary>
    public const int ProofSize = 32;

    /// <summary>The shortest shared secret accepted: 16 bytes after trimming (§5.1).</summary>
    public const int MinSecretBytes = 16;

    /// <summary>The longest token file read: 4 KiB (§5.1).</summary>
    public const int MaxSecretBytes = 4096;

    /// <summary>
    /// Bytes a multiplexed channel may receive before its reader has consumed them (Nerdbank.Streams' channel window):
    /// 16,384,000, the most the library allows. Its default (1,024,000) makes a 32 MiB transfer wait for a window
    /// update 33 times; the library also caps all channels of one connection together (65,536,000 by default), which
    /// bounds what a connection can make its peer buffer.
    /// </summary>
    public const long ChannelReceivingWindowBytes = 16_384_000;
}
