using System.ComponentModel;
using System.Diagnostics;
using System.Globalization;
using KvTier.Cli.Records;
using KvTier.Format;
using KvTier.Tensors;

namespace KvTier.Cli.Conformance;

/// <summary>
/// Runs a decoder over every vector of a manifest (format-spec/vectors/README.md) and prints a pass/fail table:
/// a valid vector passes when the decoder exits 0 and its output's <c>decodedSha256</c> matches; an invalid one when
/// the decoder exits non-zero and leaves no output file. The default decoder is this program's own
/// <c>kvtier decode</c>, run in-process, which must also name exactly the vector's error kind.
/// </summary>
/// <remarks>One run at a time per instance; external decoders run one after another, each in a fresh temporary folder.</remarks>
internal static class ConformanceRunner
{
    /// <summary>Runs the vectors in <paramref name="vectorsDirectory"/>; returns the exit code (0 when every vector passes).</summary>
    /// <param name="output">Where the table goes.</param>
    /// <param name="vectorsDirectory">The folder holding <c>manifest.json</c>.</param>
    /// <param name="decoder">An external decoder command, called as <c>COMMAND IN.kvt OUT.safetensors</c>; null for the in-process decoder.</param>
    /// <param name="timeout">How long one external decoder run may take.</param>
    /// <exception cref="InvalidDataException">The manifest is not valid.</exception>
    /// <exception cref="ArgumentException">The decoder command is malformed or cannot be started.</exception>
    public static int Run(TextWriter output, string vectorsDirectory, string? decoder, TimeSpan timeout)
    {
        string root = Path.GetFullPath(vectorsDirectory);
        ConformanceManifest manifest = ConformanceManifest.Read(Path.Combine(root, ConformanceManifest.FileName));
        string[]? command = decoder is null ? null : DecoderCommandLine.Split(decoder);
        string work = Directory.CreateTempSubdirectory("kvtier-conformance-").FullName;
        try
        {
            output.WriteLine("# result\tvector\texpected\tgot");
            int failed = 0;
            for (int i = 0; i < manifest.Vectors.Count; i++)
            {
                ConformanceVector vector = manifest.Vectors[i];
                string outPath = Path.Combine(work, string.Create(CultureInfo.InvariantCulture, $"{i}.safetensors"));
                (bool pass, string got) = Check(root, vector, command, outPath, timeout);
                if (!pass)
                    failed++;
                output.WriteLine($"{(pass ? "PASS" : "FAIL")}\t{vector.File}\t{vector.Expect}\t{got}");
                File.Delete(outPath);
            }

            string who = command is null ? "kvtier decode (in-process)" : string.Join(' ', command);
            output.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"conformance: {manifest.Vectors.Count} vectors, {manifest.Vectors.Count - failed} passed, {failed} failed; decoder: {who}; vectors: {root}"));
            return failed == 0 ? KvTierCli.Success : KvTierCli.Failure;
        }
        finally
        {
            try
            {
                Directory.Delete(work, recursive: true);
            }
            catch (IOException)
            {
                // A decoder may still hold a file open; the temporary folder is the system's to clean then.
            }
        }
    }

    /// <summary>What a decoder run did: decoded, or rejected (with the error kind when the decoder is in-process).</summary>
    private readonly record struct DecoderRun(bool Decoded, string Message, string? ErrorKind = null);

    private static (bool Pass, string Got) Check(string root, ConformanceVector vector, string[]? command, string outPath, TimeSpan timeout)
    {
        string? input = Resolve(root, vector.File);
        if (input is null)
            return (false, "the manifest names a path outside the vectors folder");
        if (!File.Exists(input))
            return (false, "vector file missing");
        if (ConformanceHash.Sha256(File.ReadAllBytes(input)) != vector.Sha256)
            return (false, "the vector file's sha256 differs from the manifest (corrupt or stale vectors)");

        DecoderRun run = command is null ? RunInProcess(input, outPath) : RunExternal(command, input, outPath, timeout);
        VectorExpectation expect = vector.Expect;
        if (!expect.ExpectsDecode)
        {
            if (run.Decoded)
                return (false, $"decoded ({run.Message})");
            if (File.Exists(outPath))
                return (false, $"rejected ({run.Message}) but left an output file");
            if (command is null && run.ErrorKind != expect.ErrorKind)
                return (false, $"rejected as {run.ErrorKind ?? "a non-record error"}: {run.Message}");
            return (true, command is null ? $"rejected as {run.ErrorKind}" : run.Message);
        }

        if (!run.Decoded)
            return (false, $"rejected: {run.Message}");
        if (!File.Exists(outPath))
            return (false, $"{run.Message} but no output file");
        string hash;
        try
        {
            hash = ConformanceHash.DecodedSha256(SafetensorsFile.Open(outPath), expect.Layers!.Value, expect.Tokens!.Value, expect.KvDim!.Value);
        }
        catch (Exception e) when (e is KvTierFormatException or InvalidDataException or IOException)
        {
            return (false, $"unreadable output: {OneLine(e.Message)}");
        }

        return hash == expect.DecodedSha256
            ? (true, "decoded, sha256 matches")
            : (false, $"decoded, but sha256 {hash} differs from {expect.DecodedSha256}");
    }

    // The manifest's '/'-separated relative path under the vectors folder, or null when it would leave it.
    private static string? Resolve(string root, string relative)
    {
        if (relative.Length == 0 || Path.IsPathRooted(relative) || relative.Split('/').Any(part => part is "" or "." or ".."))
            return null;
        return Path.Combine(root, relative.Replace('/', Path.DirectorySeparatorChar));
    }

    private static DecoderRun RunInProcess(string input, string outPath)
    {
        try
        {
            ChunkFiles.Decode(input, outPath, tokensFrom: null, @namespace: "");
            return new DecoderRun(true, "decoded");
        }
        catch (ChunkRecordException e)
        {
            return new DecoderRun(false, OneLine(e.Message), e.Kind.ToString());
        }
        catch (Exception e) when (e is KvTierFormatException or IOException or ArgumentException or NotSupportedException)
        {
            return new DecoderRun(false, OneLine(e.Message));
        }
    }

    private static DecoderRun RunExternal(string[] command, string input, string outPath, TimeSpan timeout)
    {
        var start = new ProcessStartInfo(command[0])
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = true,
            UseShellExecute = false,
        };
        foreach (string arg in command.AsSpan(1))
            start.ArgumentList.Add(arg);
        start.ArgumentList.Add(input);
        start.ArgumentList.Add(outPath);

        Process process;
        try
        {
            process = Process.Start(start) ?? throw new ArgumentException($"--decoder: {command[0]} did not start.");
        }
        catch (Win32Exception e)
        {
            throw new ArgumentException($"--decoder: cannot start {command[0]}: {e.Message}", e);
        }

        using (process)
        {
            process.StandardInput.Close();
            Task<string> stdout = process.StandardOutput.ReadToEndAsync();
            Task<string> stderr = process.StandardError.ReadToEndAsync();
            if (!process.WaitForExit(timeout))
            {
                process.Kill(entireProcessTree: true);
                process.WaitForExit();
                return new DecoderRun(false, string.Create(CultureInfo.InvariantCulture, $"timed out after {timeout.TotalSeconds:0} s"));
            }

            process.WaitForExit(); // drains the redirected streams
            string said = LastLine(stderr.Result) ?? LastLine(stdout.Result) ?? "";
            string message = string.Create(CultureInfo.InvariantCulture, $"exit {process.ExitCode}{(said.Length > 0 ? ": " + said : "")}");
            return new DecoderRun(process.ExitCode == 0, message);
        }
    }

    private static string? LastLine(string text)
    {
        string[] lines = text.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        if (lines.Length == 0)
            return null;
        string last = lines[^1];
        return last.Length <= 160 ? last : last[..160] + "…";
    }

    private static string OneLine(string message) => message.ReplaceLineEndings(" ");
}
