namespace KvTier.Prefetch;

/// <summary>Why a prefetcher call or a request failed (<see cref="PrefetchException.Kind"/>).</summary>
public enum PrefetchErrorKind
{
    /// <summary>A <see cref="PrefetcherOptions"/> value is out of range; the message names the option.</summary>
    InvalidOptions,

    /// <summary>
    /// One section's payload is larger than <see cref="PrefetcherOptions.StagingBudgetBytes"/>, so it can never be staged;
    /// the request fails rather than wait forever. Only sections that are staged (device decoders, or
    /// <see cref="PrefetcherOptions.CpuDecodeInPlace"/> off) need the budget.
    /// </summary>
    BudgetTooSmall,

    /// <summary>The destination does not fit the request (too few tokens for the chunks, bad shape).</summary>
    InvalidDestination,
}
