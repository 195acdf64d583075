namespace KvTier.Remote.Client;

// A get waiting for its body on a bulk lane (format-spec/protocol.md §12.3), registered under its request id before the
// request is sent, so that a body arriving on a lane always finds it. Completed once: by the lane's reader with the
// body, or with a failure when the lane it was assigned dies. Lane is set (Interlocked) when get-begin-lane names it.
internal sealed class LaneBodyWaiter(bool wholeRecord, Func<int, byte[]> allocate)
{
    private int _lane = -1;

    /// <summary>Whether the body is a whole chunk record, whose sections the lane's reader may check as they arrive.</summary>
    public bool WholeRecord { get; } = wholeRecord;

    /// <summary>Where the body goes: an array of at least the length asked for (a pooled one may be longer).</summary>
    public Func<int, byte[]> Allocate { get; } = allocate;

    /// <summary>
    /// The body (its first <c>Length</c> bytes), the lane it came on, and whether every section checksum was already
    /// checked on arrival.
    /// </summary>
    public TaskCompletionSource<(byte[] Body, int Length, int Lane, bool Verified)> Done { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

    public int Lane => Volatile.Read(ref _lane);

    public void Assign(int lane) => Interlocked.Exchange(ref _lane, lane);
}
