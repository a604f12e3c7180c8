using System.Net;
using Milter.Filters.Context;
using Milter.Filters.Greylist;
using Milter.Filters.Stores;
using Milter.Filters.Tests.Support;
using Milter.Protocol.Replies;
using static Milter.Filters.Tests.Greylist.GreylistTestData;

namespace Milter.Filters.Tests.Stats;

/// <summary>
/// The daemon stops (its loops' token is cancelled) while a periodic flush is writing: what that
/// flush took out of memory must still reach the database by the final flush.
/// </summary>
public sealed class FlushAtStopTests : IDisposable
{
    private readonly SqliteTestFile _file = new("flush-at-stop");

    public void Dispose() => _file.Dispose();

    // SIGTERM arrives just as the first of the flush's transactions has committed.
    private sealed class StopAfterFirstWrite(CancellationTokenSource stop) : IStoreObserver
    {
        public void OnOperation(bool write, TimeSpan elapsed, bool failed)
        {
            if (write)
                stop.Cancel();
        }
    }

    [Fact]
    public async Task Tally_counts_being_written_when_the_flusher_is_stopped_are_written_by_the_final_flush()
    {
        var clock = Clock();
        var stores = await StoreFactory.OpenAsync(_file.Setting, clock);
        var tally = stores.Tally;
        // 100 distinct rows: more than one transaction of the flush (16 rows at first).
        for (var i = 0; i < 100; i++)
        {
            var session = new SessionContext { ClientAddress = IPAddress.Parse($"198.51.{i}.1"), Sender = "x@spam.example" };
            tally.OnDecision(session, new Decision(DecisionStage.Rcpt, new Verdict(VerdictKind.Reject, null, "relay"), "relay", "relay", "bob@example.com"));
        }
        using var stop = new CancellationTokenSource();
        stores.Observer = new StopAfterFirstWrite(stop);
        var run = tally.RunAsync(TimeSpan.FromSeconds(5), stop.Token); // as TallyFlushService runs it
        clock.Advance(TimeSpan.FromSeconds(5));
        await run;
        stores.Observer = null;
        await stores.DisposeAsync(); // flushes once more, as the daemon's stop does

        Assert.Equal(100, await _file.ScalarAsync("SELECT COALESCE(SUM(n), 0) FROM decision_tally"));
    }

    [Fact]
    public async Task Lifetime_extensions_being_written_when_the_sweeper_is_stopped_are_written_by_the_final_flush()
    {
        var clock = Clock();
        var options = new StoreOptions { TouchAfter = TimeSpan.Zero };
        var stores = await StoreFactory.OpenAsync(_file.Setting, clock, null, options);
        var greylist = Options with { Delay = TimeSpan.Zero };
        var triplets = Enumerable.Range(0, 40).Select(i => Mail($"s{i}@partner{i}.example", "bob@example.com")).ToList();
        foreach (var triplet in triplets)
            await stores.Greylist.Check.CheckAsync(triplet, Client, clock.GetUtcNow(), greylist, default); // passes at once
        clock.Advance(TimeSpan.FromMinutes(30));
        var now = clock.GetUtcNow();
        foreach (var triplet in triplets)
            Assert.Equal(GreylistRules.Passed, (await stores.Greylist.Check.CheckAsync(triplet, Client, now, greylist, default)).Rule); // cache hits
        Assert.Equal(40, stores.Greylist.PendingTouches);

        using var stop = new CancellationTokenSource();
        stores.Observer = new StopAfterFirstWrite(stop);
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => stores.Greylist.FlushAsync(stop.Token)); // the sweeper's periodic flush
        stores.Observer = null;
        await stores.DisposeAsync(); // the final flush

        var extended = (now + greylist.PassLifetime).ToUnixTimeSeconds();
        Assert.Equal(40, await _file.ScalarAsync($"SELECT COUNT(*) FROM greylist_triplet WHERE expires = {extended}"));
    }
}
