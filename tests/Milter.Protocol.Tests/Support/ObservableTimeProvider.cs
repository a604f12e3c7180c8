using System.Threading.Channels;
using Microsoft.Extensions.Time.Testing;

namespace Milter.Protocol.Tests.Support;

/// <summary>
/// A <see cref="FakeTimeProvider"/> that also tells the test when code under test starts a timer, so
/// the test advances the clock only once the timer exists (advancing earlier would be lost).
/// </summary>
public sealed class ObservableTimeProvider : TimeProvider
{
    private readonly Channel<TimeSpan> _created = Channel.CreateUnbounded<TimeSpan>();

    public FakeTimeProvider Fake { get; } = new(new DateTimeOffset(2026, 11, 28, 20, 0, 0, TimeSpan.Zero));

    public override DateTimeOffset GetUtcNow() => Fake.GetUtcNow();

    public override long GetTimestamp() => Fake.GetTimestamp();

    public override long TimestampFrequency => Fake.TimestampFrequency;

    public override TimeZoneInfo LocalTimeZone => Fake.LocalTimeZone;

    public override ITimer CreateTimer(TimerCallback callback, object? state, TimeSpan dueTime, TimeSpan period)
    {
        var timer = Fake.CreateTimer(callback, state, dueTime, period);
        if (dueTime != Timeout.InfiniteTimeSpan)
            _created.Writer.TryWrite(dueTime);
        return timer;
    }

    public void Advance(TimeSpan by) => Fake.Advance(by);

    /// <summary>Waits (in real time) for the next timer with a finite due time; returns that due time.</summary>
    public async Task<TimeSpan> NextTimerAsync()
    {
        using var timeout = new CancellationTokenSource(PipeSession.HangLimit);
        try
        {
            return await _created.Reader.ReadAsync(timeout.Token);
        }
        catch (OperationCanceledException)
        {
            Assert.Fail("no timer was started within the hang limit");
            throw;
        }
    }

    /// <summary>
    /// Until <paramref name="done"/> completes: each time a timer starts, moves the clock to its due
    /// time. Returns how far the clock moved.
    /// </summary>
    public async Task<TimeSpan> DriveUntilAsync(Task done)
    {
        var start = Fake.GetUtcNow();
        var deadline = DateTime.UtcNow + PipeSession.HangLimit;
        while (!done.IsCompleted)
        {
            // Cancelled on every way out, so an abandoned read never swallows a later timer.
            using var waiting = new CancellationTokenSource(TimeSpan.FromTicks(Math.Max(1, (deadline - DateTime.UtcNow).Ticks)));
            var next = _created.Reader.ReadAsync(waiting.Token).AsTask();
            await Task.WhenAny(done, next);
            await waiting.CancelAsync();
            if (next.IsCompletedSuccessfully)
                Advance(next.Result);
            else if (!done.IsCompleted)
                Assert.Fail("neither the task ended nor a timer started within the hang limit");
        }
        await done.ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        return Fake.GetUtcNow() - start;
    }
}
