using Microsoft.Extensions.Logging;

namespace Milter.Fuzz;

/// <summary>
/// Discards the session's ordinary lines (bad input is expected here) but keeps the exception of an
/// "unexpected failure" (event 1013): the session caught something it has no name for, which for
/// input-driven code is a bug even though the connection was closed cleanly.
/// </summary>
internal sealed class TrapLogger : ILogger
{
    private const int SessionFailedEvent = 1013;

    public Exception? Unexpected { get; private set; }

    public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;

    public bool IsEnabled(LogLevel logLevel) => logLevel >= LogLevel.Warning;

    public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
    {
        if (eventId.Id == SessionFailedEvent)
            Unexpected ??= exception ?? new InvalidOperationException(formatter(state, exception));
    }
}
