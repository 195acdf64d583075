namespace KvTier.Blend;

/// <summary>Options of a <see cref="Blender"/>. Validated when the blender is created.</summary>
public sealed record BlendOptions
{
    /// <summary>
    /// The engine's context length: a plan that ends past it is refused (<see cref="BlendErrorKind.OutOfRange"/>).
    /// 0 means no limit beyond the format's (positions below 2^31). Default: 0. Set it to the model's context so a
    /// plan the engine could not run fails before any chunk is read.
    /// </summary>
    public int ContextLength { get; init; }

    /// <summary>
    /// Whether stored K is re-rotated from the positions it was computed at to its target positions. Default: true.
    /// Turning it off leaves every moved key carrying its old positions' rotation, which garbles attention; it exists so
    /// that benchmarks can show what re-rotation is worth, not for production use.
    /// </summary>
    public bool RerotateKeys { get; init; } = true;

    internal void Validate()
    {
        if (ContextLength < 0)
            throw new ArgumentOutOfRangeException(nameof(ContextLength), ContextLength, $"{nameof(BlendOptions)}.{nameof(ContextLength)} must be 0 (no limit) or positive.");
    }
}
