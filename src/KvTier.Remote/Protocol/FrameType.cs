namespace KvTier.Remote.Protocol;

// Frame types (format-spec/protocol.md §3.3). Handshake frames travel on the raw connection; the others on a channel.
// Version 2 adds the bulk-lane frames (§12): lane-attach and lane-ready open a lane; get-bulk, put-lane and
// get-begin-lane travel on channels.
internal enum FrameType : byte
{
    Hello = 0x01,
    Challenge = 0x02,
    Auth = 0x03,
    Welcome = 0x04,
    LaneAttach = 0x05,
    LaneReady = 0x06,

    Put = 0x10,
    Data = 0x11,
    Get = 0x12,
    Contains = 0x13,
    LongestPrefix = 0x14,
    Delete = 0x15,
    Stats = 0x16,
    Health = 0x17,
    List = 0x18,
    GetBulk = 0x19,
    PutLane = 0x1A,

    PutOk = 0x80,
    GetBegin = 0x82,
    ContainsReply = 0x83,
    LongestPrefixReply = 0x84,
    DeleteReply = 0x85,
    StatsReply = 0x86,
    HealthReply = 0x87,
    ListReply = 0x88,
    GetBeginLane = 0x89,

    Error = 0x7F,
}
