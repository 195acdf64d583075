namespace KvTier.Layout;

/// <summary>
/// Rotary position embedding parameters of a model: what a reader needs to move a stored key
/// from the positions it was computed at to other positions (blending).
/// </summary>
public sealed record RopeParameters
{
    /// <summary>The rotary embedding of a model without RoPE.</summary>
    public static RopeParameters None { get; } = new(0, 0, RopePairing.None);

    /// <summary>Creates and validates RoPE parameters.</summary>
    /// <param name="theta">Base of the rotation frequencies (10000 for Llama 1/2). Must be finite and positive unless <paramref name="pairing"/> is <see cref="RopePairing.None"/>, where it must be 0.</param>
    /// <param name="rotaryDims">How many channels of each head are rotated (the head dimension for full RoPE, less for partial RoPE). Even, at least 2 and at most the head dimension; 0 with <see cref="RopePairing.None"/>.</param>
    /// <param name="pairing">Which channels rotate together.</param>
    /// <exception cref="ArgumentOutOfRangeException">A parameter is outside the ranges above.</exception>
    public RopeParameters(double theta, int rotaryDims, RopePairing pairing)
    {
        if (!Enum.IsDefined(pairing))
            throw new ArgumentOutOfRangeException(nameof(pairing), pairing, "Unknown RoPE pairing.");
        if (pairing == RopePairing.None)
        {
            // +0.0 exactly: -0.0 compares equal to 0 but would hash to another fingerprint.
            if (BitConverter.DoubleToInt64Bits(theta) != 0 || rotaryDims != 0)
                throw new ArgumentOutOfRangeException(nameof(pairing), "RoPE pairing None requires theta = +0.0 and rotaryDims = 0.");
        }
        else
        {
            if (!double.IsFinite(theta) || theta <= 0)
                throw new ArgumentOutOfRangeException(nameof(theta), theta, "RoPE theta must be finite and positive.");
            if (rotaryDims < 2 || rotaryDims % 2 != 0 || rotaryDims > KvLayout.MaxHeadDim)
                throw new ArgumentOutOfRangeException(nameof(rotaryDims), rotaryDims, $"RoPE rotary dimensions must be even and within [2, {KvLayout.MaxHeadDim}].");
        }

        Theta = theta;
        RotaryDims = rotaryDims;
        Pairing = pairing;
    }

    /// <summary>Base of the rotation frequencies: channel pair i of a head rotates by <c>position * theta^(-2i/rotaryDims)</c>.</summary>
    public double Theta { get; }

    /// <summary>Number of channels per head that are rotated; the rest pass through unchanged.</summary>
    public int RotaryDims { get; }

    /// <summary>Which channels rotate together.</summary>
    public RopePairing Pairing { get; }
}
