namespace KvTier.IO;

/// <summary>
/// Replaces a file crash-safely: the bytes go to a temporary file in the same directory, which is flushed to
/// disk and then renamed over the target, so the target holds either its old content or the whole new file,
/// never a mix; on Linux the directory is then flushed too, so the rename survives a power loss. On failure
/// the temporary file is removed and the target is unchanged.
/// </summary>
/// <remarks>Stateless; safe to call from any thread. Two concurrent writers of one path both succeed and the last rename wins.</remarks>
public static class AtomicFile
{
    /// <summary>Replaces <paramref name="path"/> with <paramref name="contents"/>.</summary>
    /// <param name="path">The file to write; its directory must exist.</param>
    /// <param name="contents">The complete new content.</param>
    /// <exception cref="ArgumentException"><paramref name="path"/> is null, empty or names no file.</exception>
    /// <exception cref="IOException">Writing, flushing or renaming failed; the target is unchanged.</exception>
    /// <exception cref="UnauthorizedAccessException">Access to the directory or target is denied; the target is unchanged.</exception>
    public static void WriteAllBytes(string path, ReadOnlySpan<byte> contents)
    {
        byte[] copy = contents.ToArray(); // a span cannot enter the callback
        Write(path, stream => stream.Write(copy));
    }

    /// <summary>Replaces <paramref name="path"/> with whatever <paramref name="write"/> writes to the stream it is given.</summary>
    /// <param name="path">The file to write; its directory must exist.</param>
    /// <param name="write">Writes the complete new content; an exception from it leaves the target unchanged.</param>
    /// <exception cref="ArgumentException"><paramref name="path"/> is null, empty or names no file.</exception>
    /// <exception cref="IOException">Writing, flushing or renaming failed; the target is unchanged.</exception>
    /// <exception cref="UnauthorizedAccessException">Access to the directory or target is denied; the target is unchanged.</exception>
    public static void Write(string path, Action<Stream> write)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        ArgumentNullException.ThrowIfNull(write);
        string fullPath = Path.GetFullPath(path);
        string directory = Path.GetDirectoryName(fullPath) ?? throw new ArgumentException($"'{path}' names no file.", nameof(path));
        if (Path.GetFileName(fullPath).Length == 0)
            throw new ArgumentException($"'{path}' names no file.", nameof(path));
        if (!Directory.Exists(directory))
            throw new DirectoryNotFoundException($"Cannot write {fullPath}: the directory {directory} does not exist.");
        string tempPath = Path.Combine(directory, $".{Path.GetFileName(fullPath)}.{Guid.NewGuid():N}.tmp");
        try
        {
            using (var file = new FileStream(tempPath, FileMode.CreateNew, FileAccess.Write, FileShare.None, bufferSize: 1 << 16))
            {
                write(file);
                file.Flush(flushToDisk: true);
            }

            File.Move(tempPath, fullPath, overwrite: true);
        }
        catch
        {
            TryDelete(tempPath);
            throw;
        }

        DirectoryFlush.TryFlush(directory);
    }

    private static void TryDelete(string path)
    {
        try
        {
            File.Delete(path);
        }
        catch (IOException)
        {
            // Best effort: the original error is the one worth reporting.
        }
        catch (UnauthorizedAccessException)
        {
            // As above.
        }
    }
}
