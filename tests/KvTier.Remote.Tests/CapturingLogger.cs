using System.Collections.Concurrent;
using Microsoft.Extensions.Logging;

namespace KvTier.Remote.Tests;

/// <summary>Keeps every log line of a server, so that tests can assert on what it logged (and show it when they fail).</summary>
internal sealed class CapturingLogger : ILogger
{
    public ConcurrentQueue<(LogLevel Level, EventId Event, string Message)> Entries { get; } = new();

    public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;

    public bool IsEnabled(LogLevel logLevel) => true;

    public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
    {
        string line = formatter(state, exception) + (exception is null ? "" : " | " + exception);
        Entries.Enqueue((logLevel, eventId, line));
        if (Environment.GetEnvironmentVariable("KVTIER_TEST_LOG") == "1")
            Console.Error.WriteLine($"[{logLevel}] {line}");
    }

    public override string ToString() => string.Join("\n", Entries.Select(e => $"[{e.Level}] {e.Message}"));
}
