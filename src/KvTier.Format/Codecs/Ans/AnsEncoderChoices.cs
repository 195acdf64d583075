namespace KvTier.Format.Codecs.Ans;

/// <summary>
/// Fixes choices that <see cref="AnsEncoder"/> otherwise makes itself (§9.5), so that tests and benchmarks can produce
/// every valid payload shape: each null member keeps the encoder's own choice.
/// </summary>
/// <param name="Prediction">0 or 1; null: try both.</param>
/// <param name="TableGroups">G, a divisor of kv_dim; null: try 1 and kv_heads.</param>
/// <param name="Lanes">N, 1 to 1024; null: <see cref="AnsFormat.EncoderLanes"/>.</param>
/// <param name="ScaleAxis">Any axis, for either kind; null: the level's (<see cref="AnsLevels"/>).</param>
/// <param name="ScaleType">
/// f32, or f16 (then every scale must round up to a finite binary16, else the encoder throws); null: f16 where every scale
/// fits, else f32.
/// </param>
internal readonly record struct AnsEncoderChoices(int? Prediction = null, int? TableGroups = null, int? Lanes = null, AnsScaleAxis? ScaleAxis = null, AnsScaleType? ScaleType = null)
{
    /// <summary>The encoder's own choices.</summary>
    public static AnsEncoderChoices Automatic => default;
}
