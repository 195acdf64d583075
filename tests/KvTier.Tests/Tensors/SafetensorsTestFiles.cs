using System.Buffers.Binary;
using System.Text;

namespace KvTier.Tests.Tensors;

/// <summary>Hand-assembly of safetensors files for tests: the header text is written by the test, not by KvTier.</summary>
internal static class SafetensorsTestFiles
{
    /// <summary>Prefix (N little-endian), the UTF-8 header padded with spaces to a multiple of 8 when asked, then the data.</summary>
    public static byte[] Build(string headerJson, ReadOnlySpan<byte> data, bool pad = true)
    {
        byte[] header = Encoding.UTF8.GetBytes(headerJson);
        int padding = pad ? (8 - header.Length % 8) % 8 : 0;
        var file = new byte[8 + header.Length + padding + data.Length];
        BinaryPrimitives.WriteUInt64LittleEndian(file, (ulong)(header.Length + padding));
        header.CopyTo(file, 8);
        file.AsSpan(8 + header.Length, padding).Fill((byte)' ');
        data.CopyTo(file.AsSpan(8 + header.Length + padding));
        return file;
    }

    /// <summary>A file with the given header (padded) and <paramref name="dataLength"/> zero bytes of data.</summary>
    public static byte[] Build(string headerJson, int dataLength) => Build(headerJson, new byte[dataLength]);

    /// <summary>Reads the header text of a file: the N bytes after the prefix.</summary>
    public static string HeaderText(byte[] file)
    {
        int n = checked((int)BinaryPrimitives.ReadUInt64LittleEndian(file));
        return Encoding.UTF8.GetString(file, 8, n);
    }
}
