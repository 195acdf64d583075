namespace KvTier.Blend;

/// <summary>
/// What a blended prompt is made of: entries that tile positions <c>[0, TokenCount)</c> exactly, in order, each saying
/// where its KV comes from (<see cref="BlendEntryKind"/>). For retrieval-augmented generation: the system prompt as a
/// prefix entry, each retrieved document as a segment entry at its new position, the question as a compute entry.
/// </summary>
/// <remarks>Immutable once built; safe to share.</remarks>
public sealed class BlendPlan
{
    private readonly BlendEntry[] _entries;

    /// <summary>Checks and keeps the entries.</summary>
    /// <param name="entries">At least one; sorted by <see cref="BlendEntry.TargetStart"/> or not (they are sorted here).</param>
    /// <exception cref="BlendException">
    /// <see cref="BlendErrorKind.OutOfRange"/>: a negative start, or the plan ends past 2^31 − 1 positions;
    /// <see cref="BlendErrorKind.Gap"/>: a position is covered by no entry (the first must start at 0);
    /// <see cref="BlendErrorKind.Overlap"/>: a position is covered twice.
    /// </exception>
    public BlendPlan(IEnumerable<BlendEntry> entries)
    {
        ArgumentNullException.ThrowIfNull(entries);
        BlendEntry[] sorted = [.. entries];
        if (sorted.Length == 0)
            throw new BlendException(BlendErrorKind.Gap, "A blend plan needs at least one entry.");
        foreach (BlendEntry entry in sorted)
        {
            ArgumentNullException.ThrowIfNull(entry, nameof(entries));
            if (entry.TargetStart < 0)
                throw new BlendException(BlendErrorKind.OutOfRange, $"An entry starts at position {entry.TargetStart}; positions start at 0.");
            if (entry.TargetEnd > int.MaxValue)
                throw new BlendException(BlendErrorKind.OutOfRange, $"An entry ends at position {entry.TargetEnd}, past the largest position (2^31 − 1).");
        }

        // A stable sort, so that two entries at one start are reported as an overlap in the order the caller gave them.
        sorted = [.. sorted.OrderBy(e => e.TargetStart)];
        long next = 0;
        for (int i = 0; i < sorted.Length; i++)
        {
            BlendEntry entry = sorted[i];
            if (entry.TargetStart > next)
                throw new BlendException(BlendErrorKind.Gap, $"Positions [{next}, {entry.TargetStart}) are covered by no entry (entry {i} starts at {entry.TargetStart}).");
            if (entry.TargetStart < next)
                throw new BlendException(BlendErrorKind.Overlap, $"Entry {i} starts at {entry.TargetStart}, inside the previous entry, which ends at {next}.");
            next = entry.TargetEnd;
        }

        _entries = sorted;
        TokenCount = (int)next;
    }

    /// <summary>The entries, sorted by target position.</summary>
    public IReadOnlyList<BlendEntry> Entries => _entries;

    /// <summary>Positions in the blended prompt.</summary>
    public int TokenCount { get; }
}
