namespace MilterHost.Hosting;

/// <summary>
/// When the daemon gives its memory back after a burst. The garbage collector only runs when
/// something allocates, so a daemon that goes quiet after a burst keeps the heap the burst grew
/// (tens of MB) until mail comes again. Once nothing has happened for <see cref="Quiet"/> (no
/// connection open at any look, next to no allocation between looks) after busy periods that
/// allocated at least <see cref="Burst"/> bytes since the last such collection, one compacting
/// collection that also decommits is worth its few milliseconds: no session is in flight to wait
/// for it. An idle daemon is never collected (its timers are no burst), nor is steady mail (it
/// collects as it goes).
/// </summary>
internal sealed class QuietCollection
{
    /// <summary>How long the daemon must have been quiet.</summary>
    public static readonly TimeSpan Quiet = TimeSpan.FromSeconds(30);

    /// <summary>How often it is looked at.</summary>
    public static readonly TimeSpan Period = TimeSpan.FromSeconds(5);

    /// <summary>Allocation by busy periods since the last collection that makes one worth it.</summary>
    public const long Burst = 64L << 20;

    /// <summary>
    /// Allocation per <see cref="Period"/> that still counts as quiet: the idle daemon's timers (the
    /// change watcher, the tally flush, the sweeper) allocate a little; thirty first attempts allocate more.
    /// </summary>
    public const long IdleAllocation = 512L << 10;

    private DateTimeOffset _quietSince;
    private long _allocatedAtLastLook;
    private long _burst;

    public QuietCollection(DateTimeOffset now, long allocated)
    {
        _quietSince = now;
        _allocatedAtLastLook = allocated;
    }

    /// <summary>
    /// Looks at the daemon once (every <see cref="Period"/>): true when it should collect now; the
    /// caller then collects, and this counts the burst as given back.
    /// </summary>
    public bool ShouldCollect(DateTimeOffset now, int openConnections, long allocated)
    {
        var since = allocated - _allocatedAtLastLook;
        _allocatedAtLastLook = allocated;
        if (openConnections > 0 || since > IdleAllocation)
        {
            _burst += since;
            _quietSince = now;
            return false;
        }
        if (now - _quietSince < Quiet || _burst < Burst)
            return false;
        _burst = 0;
        return true;
    }
}
