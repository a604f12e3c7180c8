namespace MilterHost.Tests.Backup;

/// <summary>
/// The real clock moved to another day: the dated folders follow <see cref="Advance"/>, while lock waits
/// and their timeouts still run in real time (a FakeTimeProvider never fires them unless advanced).
/// </summary>
internal sealed class ShiftedClock(DateTimeOffset start) : TimeProvider
{
    private TimeSpan _offset = start - TimeProvider.System.GetUtcNow();

    public override TimeZoneInfo LocalTimeZone => TimeZoneInfo.Utc;

    public override DateTimeOffset GetUtcNow() => base.GetUtcNow() + _offset;

    public void Advance(TimeSpan by) => _offset += by;
}
