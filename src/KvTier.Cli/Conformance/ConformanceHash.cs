using System.Buffers.Binary;
using System.Security.Cryptography;
using KvTier.Format;
using KvTier.Reference;
using KvTier.Tensors;

namespace KvTier.Cli.Conformance;

/// <summary>
/// The hashes of format-spec/vectors/README.md. <c>decodedSha256</c>: SHA-256 over, for each layer l = 0, 1, …
/// in turn, layer l's K then V decoded values, each as binary32 little-endian, row-major (token, then channel):
/// exactly the data bytes of the tensors <c>layers.0.k</c>, <c>layers.0.v</c>, <c>layers.1.k</c>, … of a
/// KV-cache safetensors file. Since f16 and bf16 widen to binary32 exactly, it pins the decoded element bits.
/// <c>elementsSha256</c>: the same over the elements in the record's own element type.
/// </summary>
/// <remarks>Stateless; safe to call from any thread.</remarks>
internal static class ConformanceHash
{
    /// <summary>SHA-256 of <paramref name="bytes"/>, lowercase hex.</summary>
    public static string Sha256(ReadOnlySpan<byte> bytes) => Convert.ToHexStringLower(SHA256.HashData(bytes));

    /// <summary><c>decodedSha256</c> of a decoded chunk.</summary>
    public static string DecodedSha256(KvChunk chunk)
    {
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        var values = new float[chunk.ElementsPerSection];
        var bytes = new byte[4 * values.Length];
        for (int layer = 0; layer < chunk.Layout.Layers; layer++)
        {
            foreach (SectionKind kind in (ReadOnlySpan<SectionKind>)[SectionKind.Keys, SectionKind.Values])
            {
                chunk.GetSingle(layer, kind, values);
                for (int i = 0; i < values.Length; i++)
                    BinaryPrimitives.WriteSingleLittleEndian(bytes.AsSpan(4 * i), values[i]);
                hash.AppendData(bytes);
            }
        }

        return Convert.ToHexStringLower(hash.GetHashAndReset());
    }

    /// <summary><c>elementsSha256</c> of a decoded chunk.</summary>
    public static string ElementsSha256(KvChunk chunk)
    {
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        for (int layer = 0; layer < chunk.Layout.Layers; layer++)
        {
            hash.AppendData(chunk.Section(layer, SectionKind.Keys));
            hash.AppendData(chunk.Section(layer, SectionKind.Values));
        }

        return Convert.ToHexStringLower(hash.GetHashAndReset());
    }

    /// <summary>
    /// <c>decodedSha256</c> of a KV-cache safetensors file that a decoder wrote: its <c>layers.{l}.k</c> and
    /// <c>layers.{l}.v</c> tensors for l &lt; <paramref name="layers"/>, which must be F32 <c>[tokens, kvDim]</c>.
    /// </summary>
    /// <exception cref="InvalidDataException">A tensor is missing or has another type or shape.</exception>
    public static string DecodedSha256(SafetensorsFile file, int layers, int tokens, int kvDim)
    {
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        for (int layer = 0; layer < layers; layer++)
        {
            foreach (string name in (ReadOnlySpan<string>)[KvCacheFile.KeysTensor(layer), KvCacheFile.ValuesTensor(layer)])
            {
                if (!file.TryGetTensor(name, out SafetensorsTensorInfo? tensor))
                    throw new InvalidDataException($"the output has no tensor {name}");
                if (tensor.DType != SafetensorsDType.F32 || tensor.Shape.Length != 2 || tensor.Shape[0] != tokens || tensor.Shape[1] != kvDim)
                    throw new InvalidDataException($"tensor {name} is {SafetensorsDTypes.GetName(tensor.DType)}[{string.Join(", ", tensor.Shape)}], not F32[{tokens}, {kvDim}]");
                hash.AppendData(file.GetBytes(name));
            }
        }

        return Convert.ToHexStringLower(hash.GetHashAndReset());
    }
}
