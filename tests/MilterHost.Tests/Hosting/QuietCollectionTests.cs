using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Testing;
using Microsoft.Extensions.Time.Testing;
using MilterHost.Hosting;

namespace MilterHost.Tests.Hosting;

/// <summary>When the daemon gives a burst's memory back: only after the burst, only once it is quiet, and once.</summary>
public sealed class QuietCollectionTests
{
    private static readonly DateTimeOffset Start = new(2026, 12, 6, 14, 0, 0, TimeSpan.Zero);
    private const long Mb = 1L << 20;

    [Fact]
    public void A_burst_then_quiet_collects_once_after_the_quiet_period()
    {
        var policy = new QuietCollection(Start, 0);
        var now = Start;
        var allocated = 0L;
        // The burst: connections open, 200 MB allocated over a minute.
        for (var i = 0; i < 12; i++)
            Assert.False(policy.ShouldCollect(now += QuietCollection.Period, 40, allocated += 16 * Mb));

        var looks = new List<bool>();
        for (var i = 0; i < 20; i++)
            looks.Add(policy.ShouldCollect(now += QuietCollection.Period, 0, allocated += QuietCollection.IdleAllocation));

        // Quiet since the last busy look: the look 30 s after it collects, and no other.
        var quietLooks = (int)(QuietCollection.Quiet / QuietCollection.Period);
        Assert.Equal(quietLooks - 1, looks.IndexOf(true));
        Assert.Single(looks, collected => collected);
    }

    [Fact]
    public void An_idle_daemon_that_never_had_a_burst_is_never_collected()
    {
        var policy = new QuietCollection(Start, 0);
        var now = Start;
        var allocated = 0L;
        for (var i = 0; i < 2000; i++)
            Assert.False(policy.ShouldCollect(now += QuietCollection.Period, 0, allocated += QuietCollection.IdleAllocation));
        // Its timers allocated far more than a burst over those hours, none of it while busy.
        Assert.True(allocated > 4 * QuietCollection.Burst);
    }

    [Fact]
    public void Steady_mail_is_never_interrupted()
    {
        var policy = new QuietCollection(Start, 0);
        var now = Start;
        var allocated = 0L;
        // A connection at some looks and none at others, always more than the idle daemon allocates: never quiet.
        for (var i = 0; i < 1000; i++)
            Assert.False(policy.ShouldCollect(now += QuietCollection.Period, i % 3 == 0 ? 1 : 0, allocated += QuietCollection.IdleAllocation + Mb / 8));
    }

    [Fact]
    public void A_connection_during_the_quiet_period_starts_it_again()
    {
        var policy = new QuietCollection(Start, 0);
        var now = Start;
        Assert.False(policy.ShouldCollect(now += QuietCollection.Period, 10, 100 * Mb));
        Assert.False(policy.ShouldCollect(now += QuietCollection.Period, 0, 100 * Mb));
        for (var i = 0; i < 4; i++)
            Assert.False(policy.ShouldCollect(now += QuietCollection.Period, 0, 100 * Mb));
        // One session, and the quiet period starts again from here.
        Assert.False(policy.ShouldCollect(now += QuietCollection.Period, 1, 100 * Mb));
        for (var i = 0; i < 5; i++)
            Assert.False(policy.ShouldCollect(now += QuietCollection.Period, 0, 100 * Mb));
        Assert.True(policy.ShouldCollect(now += QuietCollection.Period, 0, 100 * Mb));
    }
}

/// <summary>
/// The daemon's service on this test process's own heap: serial, so that no other test's
/// allocations make the process look busy between the looks.
/// </summary>
[Collection(nameof(QuietCollectionServiceTests))]
[CollectionDefinition(nameof(QuietCollectionServiceTests), DisableParallelization = true)]
public sealed class QuietCollectionServiceTests
{
    [Fact]
    public void After_a_burst_and_the_quiet_period_it_compacts_the_heap_once_and_says_so()
    {
        var time = new FakeTimeProvider(new DateTimeOffset(2026, 12, 6, 14, 0, 0, TimeSpan.Zero));
        var connections = 3;
        using var logs = new FakeLoggerProvider();
        using var loggers = new LoggerFactory([logs]);
        var service = new QuietCollectionService(() => connections, time, loggers);

        // The burst: sessions open, their garbage.
        var kept = 0L;
        for (var i = 0; i < 80; i++)
            kept += new byte[1 << 20].Length;
        GC.KeepAlive(kept);
        time.Advance(QuietCollection.Period);
        Assert.False(service.Look());

        connections = 0;
        var looks = new List<bool>();
        for (var i = 0; i < 10; i++)
        {
            time.Advance(QuietCollection.Period);
            looks.Add(service.Look());
        }

        Assert.Equal([false, false, false, false, false, true, false, false, false, false], looks);
        var collection = GC.GetGCMemoryInfo(GCKind.FullBlocking);
        Assert.True(collection.Compacted);
        Assert.Equal(2, collection.Generation);
        var line = Assert.Single(logs.Collector.GetSnapshot());
        Assert.Equal(LogLevel.Debug, line.Level);
        Assert.Matches(@"^memory: no mail for 30 s after a burst; collected: resident [0-9.]+ -> [0-9.]+ MB, managed heap [0-9.]+ MB, paused [0-9.]+ ms$", line.Message);
    }
}
