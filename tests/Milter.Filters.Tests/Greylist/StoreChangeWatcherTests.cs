using System.Net;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Time.Testing;
using Milter.Filters.Stores;
using Milter.Filters.Tests.Support;
using static Milter.Filters.Tests.Greylist.GreylistTestData;

namespace Milter.Filters.Tests.Greylist;

/// <summary>The daemon's poll for changes made by other processes, on one SQLite file opened twice (daemon and admin command).</summary>
public sealed class StoreChangeWatcherTests : IAsyncLifetime
{
    private readonly string _folder = Path.Combine(Path.GetTempPath(), "milterhost-watcher-" + Guid.NewGuid().ToString("N"));
    private readonly FakeTimeProvider _clock = Clock();
    private MilterStores _daemon = null!;
    private MilterStores _admin = null!;

    public async Task InitializeAsync()
    {
        var database = "sqlite:" + Path.Combine(_folder, "w.db");
        _daemon = await StoreFactory.OpenAsync(database, _clock);
        _admin = await StoreFactory.OpenAsync(database, _clock);
    }

    public async Task DisposeAsync()
    {
        await _admin.DisposeAsync();
        await _daemon.DisposeAsync();
        Directory.Delete(_folder, recursive: true);
    }

    [Fact]
    public async Task Running_watcher_applies_a_ban_written_elsewhere_one_period_later_and_stops_when_cancelled()
    {
        var address = IPAddress.Parse("192.0.2.44");
        var clock = new TimerCountingClock(_clock);
        var watcher = new StoreChangeWatcher(_daemon, clock, NullLogger<StoreChangeWatcher>.Instance) { Period = TimeSpan.FromSeconds(2) };
        using var stop = new CancellationTokenSource();
        var running = watcher.RunAsync(stop.Token);
        // The first poll is done once the watcher waits for the next one.
        Assert.True(await WaitAsync(() => clock.Timers > 0));
        Assert.Null(await _daemon.Bans.FindAsync(address, _clock.GetUtcNow(), default));

        await _admin.Bans.AddAsync(new DynamicBan(IPNetwork.Parse("192.0.2.0/24"), "admin", BanSource.Admin, _clock.GetUtcNow(), _clock.GetUtcNow().AddDays(1)), default);
        var beforePeriod = await _daemon.Bans.FindAsync(address, _clock.GetUtcNow(), default);
        _clock.Advance(TimeSpan.FromSeconds(2));
        var seen = await WaitAsync(async () => await _daemon.Bans.FindAsync(address, _clock.GetUtcNow(), default) is not null);
        await stop.CancelAsync();
        await running.WaitAsync(TimeSpan.FromSeconds(10));

        Assert.Null(beforePeriod);
        Assert.True(seen, "the ban was not applied after one poll period");
        Assert.True(running.IsCompletedSuccessfully);
    }

    private static async Task<bool> WaitAsync(Func<bool> condition) => await WaitAsync(() => Task.FromResult(condition()));

    private static async Task<bool> WaitAsync(Func<Task<bool>> condition)
    {
        var deadline = DateTime.UtcNow.AddSeconds(10);
        while (!await condition())
        {
            if (DateTime.UtcNow > deadline)
                return false;
            await Task.Delay(10);
        }
        return true;
    }
}
