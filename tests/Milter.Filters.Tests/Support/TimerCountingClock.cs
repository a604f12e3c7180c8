using Microsoft.Extensions.Time.Testing;

namespace Milter.Filters.Tests.Support;

/// <summary>A fake clock that counts the timers made on it (a Task.Delay each), and those made by each named thread.</summary>
internal sealed class TimerCountingClock(FakeTimeProvider inner) : TimeProvider
{
    private readonly Dictionary<string, int> _byThread = [];
    private int _timers;

    public int Timers => Volatile.Read(ref _timers);

    /// <summary>The timers made on the thread named <paramref name="name"/>.</summary>
    public int TimersOn(string name)
    {
        lock (_byThread)
            return _byThread.GetValueOrDefault(name);
    }

    public override DateTimeOffset GetUtcNow() => inner.GetUtcNow();

    public override long GetTimestamp() => inner.GetTimestamp();

    public override long TimestampFrequency => inner.TimestampFrequency;

    public override TimeZoneInfo LocalTimeZone => inner.LocalTimeZone;

    public override ITimer CreateTimer(TimerCallback callback, object? state, TimeSpan dueTime, TimeSpan period)
    {
        Interlocked.Increment(ref _timers);
        if (Thread.CurrentThread.Name is { } name)
        {
            lock (_byThread)
                _byThread[name] = _byThread.GetValueOrDefault(name) + 1;
        }
        return inner.CreateTimer(callback, state, dueTime, period);
    }
}
