using KvTier.Tensors;
using Xunit;

namespace KvTier.Tests.Tensors;

/// <summary>
/// <see cref="SafetensorsWriter.WriteTo(string)"/> replaces its target atomically: a reader sees the old
/// file or the whole new one, a failure leaves the old file untouched, and no temporary file remains.
/// </summary>
public sealed class SafetensorsAtomicWriteTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("kvtier-st-atomic-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private static SafetensorsWriter Writer(float fill, int count = 1024)
    {
        var writer = new SafetensorsWriter();
        writer.AddMetadata("fill", fill.ToString(System.Globalization.CultureInfo.InvariantCulture));
        writer.AddFloat32("values", Enumerable.Repeat(fill, count).ToArray(), count);
        return writer;
    }

    private string[] FilesInDirectory() => Directory.GetFileSystemEntries(_dir).Select(Path.GetFileName).ToArray()!;

    [Fact]
    public void CreatesANewFileAndLeavesNoTemporaryFile()
    {
        string path = Path.Combine(_dir, "new.safetensors");
        Writer(1f).WriteTo(path);
        Assert.Equal(Writer(1f).ToArray(), File.ReadAllBytes(path));
        Assert.Equal(["new.safetensors"], FilesInDirectory());
    }

    [Fact]
    public void ReplacesAnExistingFile()
    {
        string path = Path.Combine(_dir, "x.safetensors");
        File.WriteAllBytes(path, new byte[100_000]);
        Writer(2f).WriteTo(path);
        Assert.Equal(Writer(2f).ToArray(), File.ReadAllBytes(path));
        Assert.Equal(["x.safetensors"], FilesInDirectory());
    }

    [Fact]
    public void AFailureMidWriteLeavesTheOldFileAndNoTemporaryFile()
    {
        string path = Path.Combine(_dir, "x.safetensors");
        byte[] old = Writer(1f).ToArray();
        File.WriteAllBytes(path, old);

        SafetensorsWriter writer = Writer(2f, count: 100_000);
        writer.TempFileStreamWrapper = inner => new FailingStream(inner, failAfterBytes: 10_000);
        Assert.Throws<IOException>(() => writer.WriteTo(path));

        Assert.Equal(old, File.ReadAllBytes(path));
        Assert.Equal(["x.safetensors"], FilesInDirectory());
    }

    [Fact]
    public void AFailedRenameLeavesNoTemporaryFile()
    {
        string path = Path.Combine(_dir, "occupied");
        Directory.CreateDirectory(path); // a directory cannot be replaced by a file
        Assert.ThrowsAny<Exception>(() => Writer(1f).WriteTo(path));
        Assert.Equal(["occupied"], FilesInDirectory());
        Assert.Empty(Directory.GetFileSystemEntries(path));
    }

    [Fact]
    public void RefusedLimitsDoNotTouchTheDisk()
    {
        string path = Path.Combine(_dir, "big.safetensors");
        var writer = new SafetensorsWriter();
        string big = new('a', SafetensorsFile.MaxHeaderSize / 2);
        writer.AddMetadata("a", big);
        writer.AddMetadata("b", big);
        Assert.Throws<InvalidOperationException>(() => writer.WriteTo(path));
        Assert.Empty(FilesInDirectory());
    }

    [Fact]
    public async Task ConcurrentReadersSeeOnlyWholeOldOrWholeNewContent()
    {
        string path = Path.Combine(_dir, "x.safetensors");
        SafetensorsWriter a = Writer(1f, count: 50_000), b = Writer(2f, count: 70_000);
        byte[] aBytes = a.ToArray(), bBytes = b.ToArray();
        a.WriteTo(path);

        using var done = new CancellationTokenSource();
        var firstRead = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        int reads = 0;
        Task reader = Task.Factory.StartNew(() =>
        {
            while (!done.IsCancellationRequested)
            {
                byte[] seen = File.ReadAllBytes(path);
                Assert.True(seen.AsSpan().SequenceEqual(aBytes) || seen.AsSpan().SequenceEqual(bBytes), $"torn read of {seen.Length} bytes");
                SafetensorsFile.Parse(seen);
                Interlocked.Increment(ref reads);
                firstRead.TrySetResult();
            }
        }, CancellationToken.None, TaskCreationOptions.LongRunning, TaskScheduler.Default);

        // Replace only once the reader is running, so that the two really overlap even on a busy 2-core machine.
        await firstRead.Task.WaitAsync(TimeSpan.FromMinutes(1));
        for (int i = 0; i < 40; i++)
            (i % 2 == 0 ? b : a).WriteTo(path);
        done.Cancel();
        await reader;

        Assert.True(reads > 0);
        Assert.Equal(aBytes, File.ReadAllBytes(path));
        Assert.Equal(["x.safetensors"], FilesInDirectory());
    }

    /// <summary>Passes writes through until a byte budget is spent, then fails like a full disk.</summary>
    private sealed class FailingStream(Stream inner, long failAfterBytes) : Stream
    {
        private long _written;

        public override bool CanRead => false;
        public override bool CanSeek => false;
        public override bool CanWrite => true;
        public override long Length => throw new NotSupportedException();
        public override long Position { get => _written; set => throw new NotSupportedException(); }
        public override void Flush() => inner.Flush();
        public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException();
        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
        public override void SetLength(long value) => throw new NotSupportedException();

        public override void Write(byte[] buffer, int offset, int count) => Write(buffer.AsSpan(offset, count));

        public override void Write(ReadOnlySpan<byte> buffer)
        {
            long room = failAfterBytes - _written;
            if (buffer.Length > room)
            {
                inner.Write(buffer[..(int)Math.Max(0, room)]);
                _written = failAfterBytes;
                throw new IOException("No space left on device (injected).");
            }
            inner.Write(buffer);
            _written += buffer.Length;
        }
    }
}
