using KvTier.Remote.Tests.Fuzz;

namespace KvTier.Fuzz;

/// <summary>
/// Fuzzes the wire protocol's frame parser and message decoders (format-spec/protocol.md §3–§8, §12): frame headers and
/// their limits, every message body under every frame type (version 2's bulk-lane frames too), and bulk-lane body
/// heads, through <see cref="FrameFuzzCheck"/>.
/// </summary>
internal static class FrameTarget
{
    public static readonly FuzzTarget Target = new(FrameFuzzCheck.Run, FrameSeeds.Create);
}
