namespace KvTier.Format.Codecs.Ans;

/// <summary>
/// What KvTier's encoder does at each <c>ans</c> level (format-spec/kvtier-format.md §9.5's level table): the bound B for
/// keys and for values, in the first ⌈layers/3⌉ layers and in the later ones (the table may make them differ where a
/// model's measured sensitivity says so), and the scale axis of values. Keys always use <see cref="AnsScaleAxis.PerChannel"/>. This is the table to edit when retuning
/// from measurements; the level only records these settings, so a change needs no decoder change, only the spec's table,
/// the conformance vectors (<c>kvtier conformance generate</c>) and the fuzz seeds regenerated.
/// </summary>
internal static class AnsLevels
{
    /// <summary>
    /// One row per level, <see cref="AnsCodec.MinLevel"/> to <see cref="AnsCodec.MaxLevel"/> in order. Chosen from
    /// <c>kvtier-codecbench --explore</c> on stories260K (bench/results/codec-exploration.json): keys are about 100 times
    /// more sensitive than values (one layer's K at B = 3 costs KL 2.6e-2 to 5.4e-2, its V 1.6e-4 to 1.1e-3), the most
    /// sensitive layer is not an early one (layer 3 of 5), values lose nothing with per-channel scales against per-token
    /// ones (KL 2.35e-2 against 2.32e-2 at B = 7) while costing 0.34 bits less per element, and prediction from the
    /// previous token costs bits (4.05 against 3.97). So bounds are uniform across layers, keys finer than values.
    /// Level 4 is near-lossless (8.5 estimated bits): greedy continuations then matched on all 24 prompts.
    /// </summary>
    private static readonly Row[] Rows =
    [
        //   level  K first  K later  V first  V later  V scale axis
        new(1,      5,       5,       2,       2,       AnsScaleAxis.PerChannel),
        new(2,      7,       7,       3,       3,       AnsScaleAxis.PerChannel),
        new(3,      31,      31,      5,       5,       AnsScaleAxis.PerChannel),
        new(4,      127,     127,     63,      63,      AnsScaleAxis.PerChannel),
    ];

    /// <summary>Every row, level 1 first.</summary>
    public static ReadOnlySpan<Row> All => Rows;

    /// <summary>The row of <paramref name="level"/>.</summary>
    /// <exception cref="ArgumentOutOfRangeException">Not a level of the codec.</exception>
    public static Row Of(int level)
    {
        if (level is < AnsCodec.MinLevel or > AnsCodec.MaxLevel)
            throw new ArgumentOutOfRangeException(nameof(level), level, $"ans levels are {AnsCodec.MinLevel} to {AnsCodec.MaxLevel}.");
        return Rows[level - AnsCodec.MinLevel];
    }

    /// <summary>One level's settings.</summary>
    /// <param name="Level">The level, 1 to 4.</param>
    /// <param name="KeyBoundFirst">B of K sections in the first ⌈layers/3⌉ layers, 1 to 127.</param>
    /// <param name="KeyBoundLater">B of K sections in the later layers, 1 to 127.</param>
    /// <param name="ValueBoundFirst">B of V sections in the first ⌈layers/3⌉ layers, 1 to 127.</param>
    /// <param name="ValueBoundLater">B of V sections in the later layers, 1 to 127.</param>
    /// <param name="ValueScaleAxis">Scale axis of V sections.</param>
    internal readonly record struct Row(int Level, int KeyBoundFirst, int KeyBoundLater, int ValueBoundFirst, int ValueBoundLater, AnsScaleAxis ValueScaleAxis)
    {
        /// <summary>B for a section of <paramref name="kind"/>, in the first third of the layers or not.</summary>
        public int Bound(SectionKind kind, bool early) => kind == SectionKind.Keys
            ? (early ? KeyBoundFirst : KeyBoundLater)
            : (early ? ValueBoundFirst : ValueBoundLater);

        /// <summary>The scale axis of a section of <paramref name="kind"/>.</summary>
        public AnsScaleAxis ScaleAxis(SectionKind kind) => kind == SectionKind.Keys ? AnsScaleAxis.PerChannel : ValueScaleAxis;
    }
}
