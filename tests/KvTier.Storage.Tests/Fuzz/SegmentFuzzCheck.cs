using KvTier.Storage.Index;
using KvTier.Storage.Segments;

namespace KvTier.Storage.Tests.Fuzz;

/// <summary>
/// The check the <c>segment</c> fuzz target runs on untrusted bytes (fuzz/KvTier.Fuzz links this file, so that a
/// saved input replays in CI exactly as it ran under AFL): the bytes are written as a segment file, its header is
/// read, its frames are walked with and without body checks, and the index value readers parse slices of it. Only
/// <see cref="KvTierFormatException"/> may escape; every frame yielded must lie inside the file and be aligned.
/// </summary>
internal static class SegmentFuzzCheck
{
    private static readonly string Directory = Path.Combine(
        System.IO.Directory.Exists("/dev/shm") ? "/dev/shm" : Path.GetTempPath(), $"kvtier-segment-fuzz-{Environment.ProcessId}");

    public static void Run(byte[] input)
    {
        _ = ChunkEntry.TryRead(input.AsSpan(0, Math.Min(input.Length, ChunkEntry.Size)));
        _ = SegmentEntry.TryRead(input.AsSpan(0, Math.Min(input.Length, SegmentEntry.Size)));

        System.IO.Directory.CreateDirectory(Directory);
        string path = Path.Combine(Directory, SegmentFormat.FileName(1));
        File.WriteAllBytes(path, input);
        SegmentFile segment;
        try
        {
            segment = SegmentFile.Open(path, 1, null, out _);
        }
        catch (SegmentFormatException)
        {
            return;
        }
        try
        {
            long length = segment.FileLength;
            foreach (bool verify in (ReadOnlySpan<bool>)[false, true])
            {
                long previousEnd = SegmentFormat.HeaderSize;
                foreach (SegmentFrame frame in SegmentScanner.Walk(segment, SegmentFormat.HeaderSize, length, verify))
                {
                    if (frame.Offset < previousEnd || frame.Offset % SegmentFormat.BlockSize != 0 || frame.Offset + frame.Size > length || frame.Size <= 0)
                        throw new InvalidOperationException($"frame at {frame.Offset} of {frame.Size} bytes is outside [{previousEnd}, {length}) or unaligned");
                    previousEnd = frame.Offset + frame.Size;
                    if (frame.Kind == FrameKind.Tombstone && SegmentScanner.TombstoneKeys(segment, frame).Length != frame.TombstoneKeys)
                        throw new InvalidOperationException("tombstone key count mismatch");
                }
            }
        }
        finally
        {
            segment.CloseWhenUnleased();
        }
    }
}
