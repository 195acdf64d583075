using KvTier.Format;

namespace KvTier.Remote.Protocol;

// Checks a whole record's sections (format-spec/protocol.md §7.2) on a worker beside the thread that moves the body over
// a bulk lane (§12.3), so that hashing and socket copies run on different cores instead of taking turns on one:
// - the client's lane reader reports bytes as they arrive (Arrived) and the worker hashes each section once all of its
//   bytes are in; the reader waits only for the last section after the last byte;
// - the server's sender waits for sections checked (CheckedThroughAsync) and sends only bytes below that point, so no
//   byte leaves unchecked while the worker checks the next sections during the send.
// Sections are checked in offset order. Concurrency: one producer calls Arrived, one consumer calls CheckedThroughAsync;
// the worker is the only one that calls the check. _arrived and _checked only grow; they are published with Volatile
// and each change is signalled on a semaphore whose surplus releases only cause a re-check. Stop may come from anywhere;
// the owner awaits Completion before the bytes behind the check go away (a lease disposed, an array reused).
internal sealed class SectionPipeline
{
    private readonly SectionEntry[] _sections;
    private readonly Func<SectionEntry, bool> _check;
    private readonly SemaphoreSlim _arrivedSignal = new(0);
    private readonly SemaphoreSlim _checkedSignal = new(0);
    private long _arrived;
    private long _checked;
    private int _stopped;
    private int _finished;

    /// <param name="sections">The record's sections; checked in offset order.</param>
    /// <param name="check">Checks one section's checksum; false when it does not match.</param>
    /// <param name="arrived">Bytes of the body present from the start (the server's: all of them).</param>
    public SectionPipeline(IReadOnlyList<SectionEntry> sections, Func<SectionEntry, bool> check, long arrived)
    {
        _sections = [.. sections];
        Array.Sort(_sections, static (a, b) => a.Offset.CompareTo(b.Offset));
        _check = check;
        _arrived = arrived;
        SectionsEnd = _sections.Length == 0 ? 0 : _sections[^1].Offset + _sections[^1].Length;
        Completion = Task.Run(RunAsync);
    }

    /// <summary>Where the last section ends: the bytes a caller may hand on once <see cref="Completion"/> says true.</summary>
    public long SectionsEnd { get; }

    /// <summary>True once every section checked; false as soon as one does not, or when stopped first.</summary>
    public Task<bool> Completion { get; }

    /// <summary>The body's first <paramref name="bytes"/> bytes are in place (never fewer than reported before).</summary>
    public void Arrived(long bytes)
    {
        Volatile.Write(ref _arrived, bytes);
        _arrivedSignal.Release();
    }

    /// <summary>Ends the checks early (the transfer failed): <see cref="Completion"/> then completes false soon.</summary>
    public void Stop()
    {
        if (Interlocked.Exchange(ref _stopped, 1) != 0)
            return;
        _arrivedSignal.Release();
        _checkedSignal.Release();
    }

    /// <summary>
    /// Waits until the sections checked reach past <paramref name="from"/>, and returns where the checked bytes end: the
    /// end of a section, above <paramref name="from"/>; −1 when a section failed its check (or the checks stopped), so
    /// that nothing from <paramref name="from"/> on may be sent as checked.
    /// </summary>
    public async ValueTask<long> CheckedThroughAsync(long from, CancellationToken cancellationToken)
    {
        while (true)
        {
            long done = Volatile.Read(ref _checked);
            if (done > from)
                return done;
            if (Volatile.Read(ref _finished) != 0)
            {
                // The worker publishes its last section before it finishes: read again, then decide.
                done = Volatile.Read(ref _checked);
                return done > from ? done : -1;
            }
            await _checkedSignal.WaitAsync(cancellationToken).ConfigureAwait(false);
        }
    }

    private async Task<bool> RunAsync()
    {
        try
        {
            foreach (SectionEntry section in _sections)
            {
                long end = section.Offset + section.Length;
                while (Volatile.Read(ref _arrived) < end)
                {
                    if (Volatile.Read(ref _stopped) != 0)
                        return false;
                    await _arrivedSignal.WaitAsync().ConfigureAwait(false);
                }
                if (Volatile.Read(ref _stopped) != 0 || !_check(section))
                    return false;
                Volatile.Write(ref _checked, end);
                _checkedSignal.Release();
            }
            return true;
        }
        finally
        {
            Volatile.Write(ref _finished, 1);
            _checkedSignal.Release(); // A consumer waiting on a worker that just finished wakes and sees it finished.
        }
    }
}
