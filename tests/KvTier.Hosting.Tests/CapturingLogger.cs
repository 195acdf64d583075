using System.Collections.Concurrent;
using Microsoft.Extensions.Logging;

namespace KvTier.Hosting.Tests;

/// <summary>Where <see cref="CapturingLogger{T}"/> puts what it logs.</summary>
internal sealed class LogSink
{
    public ConcurrentQueue<(LogLevel Level, EventId Id, string Message)> Entries { get; } = new();

    public bool Has(int eventId) => Entries.Any(e => e.Id.Id == eventId);
}

/// <summary>An ILogger&lt;T&gt; for the container (registered as an open generic) that records every message.</summary>
internal sealed class CapturingLogger<T>(LogSink sink) : ILogger<T>
{
    public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;

    public bool IsEnabled(LogLevel logLevel) => true;

    public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter) =>
        sink.Entries.Enqueue((logLevel, eventId, formatter(state, exception)));
}
