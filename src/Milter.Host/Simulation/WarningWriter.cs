using Microsoft.Extensions.Logging;

namespace MilterHost.Simulation;

/// <summary>
/// The filters' warnings and errors during a simulation (a store that failed, a filter that threw),
/// one line each on the command's error output, so the reader learns why a stage answered
/// <c>on_error</c>. Everything below Warning is the daemon's business, not the simulation's.
/// </summary>
internal sealed class WarningWriter(TextWriter error) : ILoggerProvider, ILogger
{
    private readonly Lock _lock = new();

    public ILogger CreateLogger(string categoryName) => this;

    public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;

    public bool IsEnabled(LogLevel logLevel) => logLevel >= LogLevel.Warning && logLevel != LogLevel.None;

    public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
    {
        if (!IsEnabled(logLevel))
            return;
        var line = Logging.PrintableText.Of($"simulate: {logLevel.ToString().ToLowerInvariant()}: {formatter(state, exception)}"
            + (exception is null ? "" : $" ({exception.Message})"));
        lock (_lock)
            error.WriteLine(line);
    }

    public void Dispose() { }
}
