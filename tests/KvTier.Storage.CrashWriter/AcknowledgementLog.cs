using System.Text;

namespace KvTier.Storage.CrashWriter;

/// <summary>
/// Lines on standard output, one write(2) each (a pipe write of under 4 KiB is atomic), so that a SIGKILL leaves only
/// whole lines plus at most one partial last line, which the reader ignores.
/// </summary>
/// <remarks>Called from concurrent put continuations; the lock keeps lines whole and in the order they were acknowledged.</remarks>
internal sealed class AcknowledgementLog(Stream output)
{
    private readonly Lock _lock = new();

    public void Write(string line)
    {
        byte[] bytes = Encoding.ASCII.GetBytes(line + "\n");
        lock (_lock)
        {
            output.Write(bytes);
            output.Flush();
        }
    }
}
