using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Time.Testing;
using Milter.Filters.Greylist;
using Milter.Filters.Stores;
using static Milter.Filters.Tests.Greylist.GreylistTestData;

namespace Milter.Filters.Tests.Greylist;

public sealed class GreylistSweeperTests : IAsyncLifetime
{
    private readonly string _folder = Path.Combine(Path.GetTempPath(), "milterhost-sweeper-" + Guid.NewGuid().ToString("N"));
    private readonly FakeTimeProvider _clock = Clock();
    private MilterStores _stores = null!;

    public async Task InitializeAsync() => _stores = await StoreFactory.OpenAsync("sqlite:" + Path.Combine(_folder, "g.db"), _clock);

    public async Task DisposeAsync()
    {
        await _stores.DisposeAsync();
        Directory.Delete(_folder, recursive: true);
    }

    private GreylistSweeper Sweeper() => new(_stores.Expiring, _clock, NullLogger<GreylistSweeper>.Instance)
    {
        FlushPeriod = TimeSpan.FromSeconds(30),
        SweepPeriod = TimeSpan.FromMinutes(5),
        BatchSize = 2,
    };

    private async Task<long> ExpiredAsync() => (await _stores.Greylist.Admin.StatsAsync(_clock.GetUtcNow(), Options, default)).Expired;

    [Fact]
    public async Task Sweep_once_deletes_every_expired_row_in_batches_and_keeps_live_ones()
    {
        for (var i = 0; i < 5; i++)
            await _stores.Greylist.Check.CheckAsync(Mail($"s{i}@example.org", "bob@example.com"), Client, _clock.GetUtcNow(), Options, default);
        _clock.Advance(TimeSpan.FromHours(6));
        await _stores.Greylist.Check.CheckAsync(Mail("fresh@example.org", "bob@example.com"), Client, _clock.GetUtcNow(), Options, default);

        var swept = await Sweeper().SweepOnceAsync(default);

        Assert.Equal(5, swept);
        var left = Assert.Single(await _stores.Greylist.Admin.ListTripletsAsync(new GreylistQuery(), _clock.GetUtcNow(), default));
        Assert.Equal("fresh@example.org", left.Triplet.Sender);
    }

    [Fact]
    public async Task Running_sweeper_flushes_and_sweeps_on_its_periods_and_stops_when_cancelled()
    {
        var triplet = Mail("alice@example.org", "bob@example.com");
        await _stores.Greylist.Check.CheckAsync(Mail("gone@example.org", "bob@example.com"), Client, _clock.GetUtcNow().AddHours(-6), Options, default);
        await _stores.Greylist.Check.CheckAsync(triplet, Client, _clock.GetUtcNow(), Options, default);
        _clock.Advance(TimeSpan.FromMinutes(3));
        await _stores.Greylist.Check.CheckAsync(triplet, Client, _clock.GetUtcNow(), Options, default);
        _clock.Advance(TimeSpan.FromMinutes(20));
        await _stores.Greylist.Check.CheckAsync(triplet, Client, _clock.GetUtcNow(), Options, default);
        Assert.Equal(1, _stores.Greylist.PendingTouches);
        Assert.Equal(1, await ExpiredAsync());

        using var stop = new CancellationTokenSource();
        var running = Sweeper().RunAsync(stop.Token);
        _clock.Advance(TimeSpan.FromSeconds(30));
        var flushed = await Until(() => Task.FromResult(_stores.Greylist.PendingTouches == 0));
        var expiredBeforeSweepPeriod = await ExpiredAsync();
        // Time moves on while we wait: the sweeper may be between two delays when the clock is advanced.
        var swept = await Until(async () =>
        {
            _clock.Advance(TimeSpan.FromSeconds(30));
            return await ExpiredAsync() == 0;
        });
        await stop.CancelAsync();
        await running.WaitAsync(TimeSpan.FromSeconds(10));

        Assert.True(flushed);
        Assert.Equal(1, expiredBeforeSweepPeriod);
        Assert.True(swept);
        var row = Assert.Single(await _stores.Greylist.Admin.ListTripletsAsync(new GreylistQuery(), _clock.GetUtcNow(), default));
        Assert.Equal(triplet, row.Triplet);
    }

    [Fact]
    public async Task Batches_grow_while_they_are_quick_and_shrink_when_one_holds_the_database_too_long()
    {
        // Rows that take 0.5 ms each to delete: 16 rows (8 ms) is too long for the 2 ms a batch may take.
        var store = new TimedStore(_clock, rows: 200, perRow: TimeSpan.FromMilliseconds(0.5));
        var sweeper = new GreylistSweeper([store], _clock, NullLogger<GreylistSweeper>.Instance) { BatchSize = 500 };

        var swept = await sweeper.SweepOnceAsync(default);

        Assert.Equal(200, swept);
        // 4 rows take exactly the 2 ms allowed: kept; never back above it.
        Assert.Equal([16, 8, 4, 4, 4], store.Batches.Take(5));
        Assert.All(store.Batches.Skip(2), b => Assert.InRange(b, 1, 4));
    }

    [Fact]
    public async Task Quick_batches_grow_up_to_the_batch_size_and_no_further()
    {
        var store = new TimedStore(_clock, rows: 3000, perRow: TimeSpan.Zero);
        var sweeper = new GreylistSweeper([store], _clock, NullLogger<GreylistSweeper>.Instance) { BatchSize = 100 };

        Assert.Equal(3000, await sweeper.SweepOnceAsync(default));
        Assert.Equal([16, 32, 64, 100, 100], store.Batches.Take(5));
        Assert.Equal(100, store.Batches.Max());
    }

    /// <summary>Expired rows whose deletion moves the clock on by a fixed time per row.</summary>
    [Fact]
    public async Task A_clock_stepped_a_year_ahead_postpones_the_sweep_once_and_a_step_back_meanwhile_saves_the_rows()
    {
        var clock = new SteppedClock(_clock);
        var store = new RecordingStore();
        var sweeper = new GreylistSweeper([store], clock, NullLogger<GreylistSweeper>.Instance)
        {
            FlushPeriod = TimeSpan.FromSeconds(30), SweepPeriod = TimeSpan.FromMinutes(5),
        };
        using var stop = new CancellationTokenSource();
        var running = sweeper.RunAsync(stop.Token);

        // A normal period sweeps at the wall time.
        Assert.True(await Until(() => { _clock.Advance(TimeSpan.FromSeconds(30)); return Task.FromResult(store.Sweeps.Count >= 1); }));
        // The wall clock jumps a year ahead: the next period does not sweep...
        clock.Step = TimeSpan.FromDays(365);
        var before = store.Sweeps.Count;
        for (var i = 0; i < 10; i++)
        {
            _clock.Advance(TimeSpan.FromSeconds(30));
            await Task.Delay(20);
        }
        Assert.Equal(before, store.Sweeps.Count);
        // ...and once the clock is stepped back, sweeping goes on at the right time.
        clock.Step = TimeSpan.Zero;
        Assert.True(await Until(() => { _clock.Advance(TimeSpan.FromSeconds(30)); return Task.FromResult(store.Sweeps.Count > before); }));
        await stop.CancelAsync();
        await running.WaitAsync(TimeSpan.FromSeconds(10));

        Assert.All(store.Sweeps, at => Assert.True(at < _clock.GetUtcNow() + TimeSpan.FromDays(1), $"swept at {at}"));
    }

    [Fact]
    public async Task A_clock_that_stays_ahead_is_believed_one_period_later()
    {
        var clock = new SteppedClock(_clock);
        var store = new RecordingStore();
        var sweeper = new GreylistSweeper([store], clock, NullLogger<GreylistSweeper>.Instance);
        using var stop = new CancellationTokenSource();
        var running = sweeper.RunAsync(stop.Token);
        Assert.True(await Until(() => { _clock.Advance(TimeSpan.FromSeconds(30)); return Task.FromResult(store.Sweeps.Count >= 1); }));

        clock.Step = TimeSpan.FromDays(7); // a virtual machine resumed after a week, say
        Assert.True(await Until(() => { _clock.Advance(TimeSpan.FromSeconds(30)); return Task.FromResult(store.Sweeps.Count >= 2); }));
        await stop.CancelAsync();
        await running.WaitAsync(TimeSpan.FromSeconds(10));

        Assert.True(store.Sweeps[1] > _clock.GetUtcNow() + TimeSpan.FromDays(6));
    }

    /// <summary>A wall clock that can be stepped away from the monotonic one (FakeTimeProvider moves both together).</summary>
    private sealed class SteppedClock(FakeTimeProvider inner) : TimeProvider
    {
        public TimeSpan Step { get; set; }

        public override DateTimeOffset GetUtcNow() => inner.GetUtcNow() + Step;

        public override long GetTimestamp() => inner.GetTimestamp();

        public override long TimestampFrequency => inner.TimestampFrequency;

        public override ITimer CreateTimer(TimerCallback callback, object? state, TimeSpan dueTime, TimeSpan period) =>
            inner.CreateTimer(callback, state, dueTime, period);
    }

    private sealed class RecordingStore : IExpiringStore
    {
        private readonly List<DateTimeOffset> _sweeps = [];

        public IReadOnlyList<DateTimeOffset> Sweeps
        {
            get
            {
                lock (_sweeps) return [.. _sweeps];
            }
        }

        public Task<int> SweepAsync(DateTimeOffset now, int batchSize, CancellationToken cancellationToken)
        {
            lock (_sweeps) _sweeps.Add(now);
            return Task.FromResult(0);
        }
    }

    private sealed class TimedStore(FakeTimeProvider clock, int rows, TimeSpan perRow) : IExpiringStore
    {
        private int _left = rows;

        public List<int> Batches { get; } = [];

        public Task<int> SweepAsync(DateTimeOffset now, int batchSize, CancellationToken cancellationToken)
        {
            Batches.Add(batchSize);
            var deleted = Math.Min(batchSize, _left);
            _left -= deleted;
            clock.Advance(perRow * deleted);
            return Task.FromResult(deleted);
        }
    }

    private static async Task<bool> Until(Func<Task<bool>> condition)
    {
        var deadline = DateTime.UtcNow.AddSeconds(10);
        while (!await condition())
        {
            if (DateTime.UtcNow > deadline)
                return false;
            await Task.Delay(20);
        }
        return true;
    }
}
