using System.Globalization;
using System.Runtime.InteropServices;

namespace KvTier.Bench.Shared;

/// <summary>Where the numbers came from: enough to tell two machines' results apart.</summary>
internal sealed record MachineInfo(
    int ProcessorCount,
    string? Cpu,
    long? MemoryBytes,
    string Os,
    string Runtime,
    string Date,
    string? FileSystem,
    double TimerOverheadNs,
    string? LoadAverageAtStart)
{
    /// <summary>The 1-, 5- and 15-minute load averages: other work on the machine skews every number of the run.</summary>
    public static string? LoadAverage()
    {
        try
        {
            return string.Join(' ', File.ReadAllText("/proc/loadavg").Split(' ').Take(3));
        }
        catch (IOException)
        {
            return null;
        }
    }

    public static MachineInfo Describe(string directory) => new(
        Environment.ProcessorCount,
        ProcLine("/proc/cpuinfo", "model name"),
        long.TryParse(ProcLine("/proc/meminfo", "MemTotal")?.Split(' ')[0], CultureInfo.InvariantCulture, out long kb) ? kb * 1024 : null,
        RuntimeInformation.OSDescription,
        RuntimeInformation.FrameworkDescription,
        DateTime.UtcNow.ToString("yyyy-MM-dd'T'HH:mm:ss'Z'", CultureInfo.InvariantCulture),
        FileSystemOf(directory),
        TimerOverhead(),
        LoadAverage());

    private static string? ProcLine(string file, string field)
    {
        try
        {
            foreach (string line in File.ReadLines(file))
            {
                if (line.StartsWith(field, StringComparison.Ordinal) && line.IndexOf(':') is int colon and > 0)
                    return line[(colon + 1)..].Trim();
            }
        }
        catch (IOException)
        {
        }
        catch (UnauthorizedAccessException)
        {
        }

        return null;
    }

    /// <summary>The device and type of the mount holding <paramref name="directory"/>, from /proc/mounts.</summary>
    private static string? FileSystemOf(string directory)
    {
        try
        {
            string full = Path.GetFullPath(directory);
            string? best = null;
            int bestLength = -1;
            foreach (string line in File.ReadLines("/proc/mounts"))
            {
                string[] f = line.Split(' ');
                if (f.Length < 3)
                    continue;
                string mount = f[1];
                bool under = full == mount || full.StartsWith(mount.EndsWith('/') ? mount : mount + "/", StringComparison.Ordinal);
                if (under && mount.Length > bestLength)
                {
                    best = $"{f[0]} on {mount} ({f[2]})";
                    bestLength = mount.Length;
                }
            }

            return best;
        }
        catch (IOException)
        {
            return null;
        }
    }

    /// <summary>Cost of one Stopwatch.GetTimestamp, which every latency sample includes once.</summary>
    private static double TimerOverhead()
    {
        const int n = 1_000_000;
        long start = System.Diagnostics.Stopwatch.GetTimestamp();
        long sink = 0;
        for (int i = 0; i < n; i++)
            sink += System.Diagnostics.Stopwatch.GetTimestamp() & 1;
        double ns = System.Diagnostics.Stopwatch.GetElapsedTime(start).TotalNanoseconds / n;
        return sink < 0 ? -1 : ns;
    }
}
