using Microsoft.Extensions.Logging;
using Milter.Protocol.Wire;

namespace Milter.Protocol.Tests.Support;

/// <summary>One log line as the code under test wrote it.</summary>
public sealed record LogEntry(LogLevel Level, EventId EventId, string Message, IReadOnlyDictionary<string, object?> State, Exception? Exception)
{
    /// <summary>The <see cref="ProtocolViolation"/> of a bad-input line, or null.</summary>
    public ProtocolViolation? Violation => State.TryGetValue("Violation", out var v) && v is ProtocolViolation p ? p : null;

    public override string ToString() => $"{Level} {EventId.Id}: {Message}";
}

/// <summary>A logger that keeps every line, for assertions on what was logged and how often.</summary>
public class CapturingLogger : ILogger
{
    private readonly List<LogEntry> _entries = [];

    public IReadOnlyList<LogEntry> Entries
    {
        get
        {
            lock (_entries) return _entries.ToArray();
        }
    }

    public IReadOnlyList<LogEntry> AtLeast(LogLevel level) => Entries.Where(e => e.Level >= level).ToArray();

    public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;

    public bool IsEnabled(LogLevel logLevel) => true;

    public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
    {
        var pairs = new Dictionary<string, object?>(StringComparer.Ordinal);
        if (state is IEnumerable<KeyValuePair<string, object?>> kvs)
            foreach (var (k, v) in kvs) pairs[k] = v;
        var entry = new LogEntry(logLevel, eventId, formatter(state, exception), pairs, exception);
        lock (_entries) _entries.Add(entry);
    }
}

/// <summary>The typed flavour, for constructors that want <c>ILogger&lt;T&gt;</c>.</summary>
public sealed class CapturingLogger<T> : CapturingLogger, ILogger<T>;
