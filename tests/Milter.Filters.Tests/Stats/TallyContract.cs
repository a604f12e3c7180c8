using System.Net;
using Milter.Filters.Context;
using Milter.Filters.Greylist;
using Milter.Filters.Stats;
using Milter.Filters.Stores;
using Milter.Filters.Tests.Greylist;
using Milter.Filters.Tests.Support;
using Milter.Protocol.Replies;
using static Milter.Filters.Tests.Greylist.GreylistTestData;

namespace Milter.Filters.Tests.Stats;

/// <summary>
/// The decision and greylist tallies and the stats built on them, run against SQLite
/// (<see cref="SqliteTallyTests"/>) and a real PostgreSQL (<see cref="PostgresTallyTests"/>), a fresh
/// database per test.
/// </summary>
public abstract class TallyContract : StoreTestBase
{
    private static readonly IPAddress Spammer = IPAddress.Parse("203.0.113.77");
    private static readonly IPAddress Friend = IPAddress.Parse("2001:db8:1:2:3:4:5:6");

    private static SessionContext Session(IPAddress? client, string? sender) => new() { ClientAddress = client, Sender = sender };

    private static Decision Refusal(string filter, string rule, VerdictKind kind = VerdictKind.Reject) =>
        new(DecisionStage.Rcpt, new Verdict(kind, null, rule), filter, rule, "bob@example.com");

    private DateTimeOffset Now => Clock.GetUtcNow();

    private (DateTimeOffset From, DateTimeOffset To) Day => StatsReporter.Window(Now, TimeSpan.FromHours(24));

    // ---- schema ----------------------------------------------------------------------------

    [Fact]
    public async Task A_version_1_database_gains_the_tally_tables_and_keeps_its_rows()
    {
        var stores = await OpenAsync();
        await stores.Greylist.Check.CheckAsync(Mail("kept@grey.example", "bob@example.com"), Client, Now, Options, default);
        await stores.DisposeAsync();
        // As the previous release left it.
        await ScalarAsync("DROP TABLE decision_tally");
        await ScalarAsync("DROP TABLE greylist_tally");
        await ScalarAsync("DROP TABLE store_generation");
        await ScalarAsync("DELETE FROM schema_version WHERE version >= 2");

        var reopened = await OpenAsync();
        reopened.Tally.OnAccepted(Session(Friend, "f@partner.example"));
        await reopened.Tally.FlushAsync(default);

        Assert.Equal(4, await ScalarAsync("SELECT MAX(version) FROM schema_version"));
        Assert.Equal(1, await ScalarAsync("SELECT COUNT(*) FROM greylist_triplet"));
        Assert.Equal(1, await ScalarAsync("SELECT SUM(n) FROM decision_tally"));
    }

    // ---- decision tally ----------------------------------------------------------------------

    [Fact]
    public async Task Decisions_are_written_only_by_the_flush_and_added_up_per_key()
    {
        var stores = await OpenAsync();
        var tally = stores.Tally;
        for (var i = 0; i < 3; i++)
            tally.OnDecision(Session(Spammer, "x@spam.example"), Refusal("relay", "relay"));
        tally.OnDecision(Session(Spammer, "x@spam.example"), Refusal("ban", "ban#1 (line 9)"));

        Assert.Equal(4, tally.Pending);
        Assert.Empty(await tally.DecisionsAsync(Day.From, Day.To, default));
        await tally.FlushAsync(default);
        tally.OnDecision(Session(Spammer, "y@spam.example"), Refusal("relay", "relay"));
        tally.OnDecision(Session(Spammer, "y@spam.example"), Refusal("relay", "relay"));
        await tally.FlushAsync(default);

        Assert.Equal(0, tally.Pending);
        Assert.Equal(
            [new DecisionCount("ban", "reject", "ban#1 (line 9)", 1), new DecisionCount("relay", "reject", "relay", 5)],
            await tally.DecisionsAsync(Day.From, Day.To, default));
    }

    [Fact]
    public async Task Accepted_messages_count_as_filter_dash_verdict_accept()
    {
        var tally = (await OpenAsync()).Tally;
        tally.OnAccepted(Session(Friend, "friend@partner.example"));
        tally.OnAccepted(Session(Friend, "friend@partner.example"));
        await tally.FlushAsync(default);

        var row = Assert.Single(await tally.DecisionsAsync(Day.From, Day.To, default));
        Assert.Equal(new DecisionCount("-", "accept", "-", 2), row);
        Assert.Empty(await tally.TopRefusedNetworksAsync(Day.From, Day.To, 10, default));
    }

    [Fact]
    public async Task Refused_networks_are_the_clients_24_or_64_and_greylisting_and_failures_do_not_count()
    {
        var tally = (await OpenAsync()).Tally;
        tally.OnDecision(Session(IPAddress.Parse("203.0.113.77"), "a@spam.example"), Refusal("relay", "relay"));
        tally.OnDecision(Session(IPAddress.Parse("203.0.113.200"), "b@Spam.Example"), Refusal("ban", "ban#1", VerdictKind.Discard));
        tally.OnDecision(Session(IPAddress.Parse("::ffff:203.0.113.9"), "c@spam.example"), Refusal("ban", "ban#1", VerdictKind.Tempfail));
        tally.OnDecision(Session(Friend, "prvs=1234abcd=news@lists.example"), Refusal("recipients", "unknown"));
        tally.OnDecision(Session(IPAddress.Parse("198.51.100.1"), "x@grey.example"), Refusal("greylist", GreylistRules.New, VerdictKind.Tempfail));
        tally.OnDecision(Session(IPAddress.Parse("198.51.100.1"), "x@grey.example"), Refusal("dnsbl", FilterChain.OnErrorRule, VerdictKind.Tempfail));
        tally.OnDecision(Session(null, "local@example.com"), Refusal("ban", "ban#2"));
        tally.OnDecision(Session(Friend, ""), Refusal("recipients", "unknown"));
        await tally.FlushAsync(default);

        Assert.Equal([new NamedCount("203.0.113.0/24", 3), new NamedCount("2001:db8:1:2::/64", 2)],
            await tally.TopRefusedNetworksAsync(Day.From, Day.To, 10, default));
        Assert.Equal([new NamedCount("spam.example", 3), new NamedCount("example.com", 1), new NamedCount("lists.example", 1)],
            await tally.TopRefusedSenderDomainsAsync(Day.From, Day.To, 10, default));
        Assert.Equal([new NamedCount("203.0.113.0/24", 3)], await tally.TopRefusedNetworksAsync(Day.From, Day.To, 1, default));
    }

    [Fact]
    public async Task Decisions_are_grouped_by_hour_and_the_window_excludes_older_minutes()
    {
        var tally = (await OpenAsync()).Tally;
        tally.OnDecision(Session(Spammer, "a@spam.example"), Refusal("relay", "relay"));
        Clock.Advance(TimeSpan.FromMinutes(70));
        tally.OnDecision(Session(Spammer, "a@spam.example"), Refusal("relay", "relay"));
        tally.OnAccepted(Session(Friend, "f@partner.example"));
        await tally.FlushAsync(default);

        var hourly = await tally.HourlyAsync(Start.AddHours(-1), Start.AddHours(3), default);
        Assert.Equal(
            [new HourlyCount(Start, "reject", 1), new HourlyCount(Start.AddHours(1), "accept", 1), new HourlyCount(Start.AddHours(1), "reject", 1)],
            hourly.OrderBy(h => h.Hour).ThenBy(h => h.Verdict, StringComparer.Ordinal));
        var lastHalfHour = StatsReporter.Window(Now, TimeSpan.FromMinutes(30));
        Assert.Equal(2, (await tally.DecisionsAsync(lastHalfHour.From, lastHalfHour.To, default)).Sum(d => d.Count));
    }

    [Fact]
    public async Task Past_the_capacity_decisions_are_counted_without_network_and_domain_and_left_out_of_the_tops()
    {
        var tally = (await OpenAsync(new StoreOptions { TallyCapacity = 2 })).Tally;
        // Two distinct rows fill it; a third key (a flood from elsewhere) is folded, a known key still counts as itself.
        tally.OnDecision(Session(Spammer, "a@spam.example"), Refusal("relay", "relay"));
        tally.OnDecision(Session(Spammer, "b@other.example"), Refusal("relay", "relay"));
        for (var i = 1; i <= 5; i++)
            tally.OnDecision(Session(IPAddress.Parse($"198.51.{i}.7"), $"x@flood{i}.example"), Refusal("relay", "relay"));
        tally.OnDecision(Session(Spammer, "a@spam.example"), Refusal("relay", "relay"));
        tally.OnGreylist(GreylistEvent.FirstAttempt, Now, TimeSpan.Zero);
        Assert.Equal(8, tally.Pending);
        await tally.FlushAsync(default);
        // Written: the next flush period starts empty.
        tally.OnDecision(Session(IPAddress.Parse("198.51.9.7"), "y@flood9.example"), Refusal("relay", "relay"));
        await tally.FlushAsync(default);

        Assert.Equal((5, 1), (tally.FoldedDecisions, tally.Dropped));
        Assert.Equal(9, Assert.Single(await tally.DecisionsAsync(Day.From, Day.To, default)).Count);
        Assert.Equal([new NamedCount("203.0.113.0/24", 3), new NamedCount("198.51.9.0/24", 1)],
            await tally.TopRefusedNetworksAsync(Day.From, Day.To, 10, default));
        Assert.Equal([new NamedCount("spam.example", 2), new NamedCount("flood9.example", 1), new NamedCount("other.example", 1)],
            await tally.TopRefusedSenderDomainsAsync(Day.From, Day.To, 10, default));
        Assert.Equal(5, await ScalarAsync("SELECT SUM(n) FROM decision_tally WHERE network = '*' AND sender_domain = '*'"));
    }

    [Fact]
    public async Task Failed_flush_keeps_the_rows_for_the_next_one()
    {
        var tally = (await OpenAsync(new StoreOptions { BusyTimeout = TimeSpan.FromMilliseconds(300) })).Tally;
        tally.OnDecision(Session(Spammer, "a@spam.example"), Refusal("relay", "relay"));
        await using (await MakeUnavailableAsync())
            await tally.FlushAsync(default);
        tally.OnDecision(Session(Spammer, "a@spam.example"), Refusal("relay", "relay"));
        await tally.FlushAsync(default);

        Assert.Equal(2, Assert.Single(await tally.DecisionsAsync(Day.From, Day.To, default)).Count);
        Assert.Equal(0, tally.Dropped);
    }

    [Fact]
    public async Task Each_flush_writes_what_was_counted_since_the_one_before_a_failed_one_included()
    {
        // Four flush periods, one of them failed: no row is written twice, none is lost. The failed
        // flush comes first: a crash of PostgreSQL (MakeUnavailableAsync) may lose the relaxed commits
        // of the moment before it, as a power cut would.
        var tally = (await OpenAsync(new StoreOptions { BusyTimeout = TimeSpan.FromMilliseconds(300) })).Tally;
        for (var period = 1; period <= 4; period++)
        {
            for (var i = 0; i < period; i++)
                tally.OnDecision(Session(Spammer, $"p{period}@spam.example"), Refusal("relay", "relay"));
            tally.OnGreylist(GreylistEvent.FirstAttempt, Now, TimeSpan.Zero);
            if (period == 1)
            {
                await using (await MakeUnavailableAsync())
                    await tally.FlushAsync(default);
                Assert.Equal(2, tally.Pending);
            }
            else
            {
                await tally.FlushAsync(default);
                Assert.Equal(0, tally.Pending);
            }
        }
        await tally.FlushAsync(default);

        Assert.Equal(1 + 2 + 3 + 4, Assert.Single(await tally.DecisionsAsync(Day.From, Day.To, default)).Count);
        Assert.Equal([new NamedCount("spam.example", 10)], await tally.TopRefusedSenderDomainsAsync(Day.From, Day.To, 10, default));
        Assert.Equal(4, (await tally.GreylistFunnelAsync(Day.From, Day.To, default)).FirstAttempts);
        Assert.Equal(0, tally.Dropped);
    }

    [Fact]
    public async Task A_flood_is_written_once_and_the_quiet_periods_after_it_count_alone()
    {
        // 1,500 networks in one flush period (written in several transactions), then quiet ones.
        var tally = (await OpenAsync()).Tally;
        for (var i = 0; i < 1_500; i++)
            tally.OnDecision(Session(IPAddress.Parse($"10.{i / 256}.{i % 256}.1"), "x@flood.example"), Refusal("relay", "relay"));
        await tally.FlushAsync(default);
        for (var period = 0; period < 3; period++)
        {
            tally.OnDecision(Session(Spammer, "a@spam.example"), Refusal("relay", "relay"));
            await tally.FlushAsync(default);
        }

        Assert.Equal(1_503, Assert.Single(await tally.DecisionsAsync(Day.From, Day.To, default)).Count);
        Assert.Equal([new NamedCount("flood.example", 1_500), new NamedCount("spam.example", 3)],
            await tally.TopRefusedSenderDomainsAsync(Day.From, Day.To, 10, default));
        Assert.Equal(new NamedCount("203.0.113.0/24", 3), (await tally.TopRefusedNetworksAsync(Day.From, Day.To, 1, default))[0]);
    }

    [Fact]
    public async Task Sweep_removes_tally_rows_older_than_35_days_and_keeps_the_rest()
    {
        var stores = await OpenAsync();
        var tally = stores.Tally;
        tally.OnDecision(Session(Spammer, "old@spam.example"), Refusal("relay", "relay"));
        tally.OnGreylist(GreylistEvent.FirstAttempt, Now, TimeSpan.Zero);
        await tally.FlushAsync(default);
        Clock.Advance(TimeSpan.FromDays(20));
        tally.OnDecision(Session(Spammer, "new@spam.example"), Refusal("relay", "relay"));
        await tally.FlushAsync(default);
        Clock.Advance(TimeSpan.FromDays(16));

        var swept = await new GreylistSweeper(stores.Expiring, Clock, Microsoft.Extensions.Logging.Abstractions.NullLogger<GreylistSweeper>.Instance)
            .SweepOnceAsync(default);

        Assert.Equal(2, swept);
        var all = await tally.TopRefusedSenderDomainsAsync(Start.AddDays(-1), Now, 10, default);
        Assert.Equal([new NamedCount("spam.example", 1)], all);
        Assert.Equal(0, (await tally.GreylistFunnelAsync(Start.AddDays(-1), Now, default)).FirstAttempts);
    }

    [Fact]
    public async Task Observer_hears_reads_writes_and_failures()
    {
        var stores = await OpenAsync(new StoreOptions { BusyTimeout = TimeSpan.FromMilliseconds(300) });
        var observer = new RecordingObserver();
        stores.Observer = observer;

        await stores.Bans.ListAsync(Now, default);
        stores.Tally.OnAccepted(Session(Friend, "f@partner.example"));
        await stores.Tally.FlushAsync(default);
        await using (await MakeUnavailableAsync())
            await Assert.ThrowsAsync<StoreUnavailableException>(() => stores.Bans.AddAsync(
                new DynamicBan(new IPNetwork(Spammer, 32), "test", BanSource.Admin, Now, Now.AddDays(1)), default));

        Assert.Equal([(false, false), (true, false), (true, true)], observer.Operations);
    }

    // ---- greylist funnel --------------------------------------------------------------------

    [Fact]
    public async Task Greylist_funnel_counts_first_attempts_retries_and_passes_with_the_median_delay()
    {
        var stores = await OpenAsync();
        var (a, b, c) = (Mail("a@grey.example", "bob@example.com"), Mail("b@grey.example", "bob@example.com"), Mail("c@grey.example", "bob@example.com"));
        foreach (var t in (Triplet[])[a, b, c])
            await CheckAsync(stores, t);
        Clock.Advance(TimeSpan.FromSeconds(60));
        Assert.Equal(GreylistRules.Early, (await CheckAsync(stores, a)).Rule);
        Clock.Advance(TimeSpan.FromSeconds(90));
        Assert.True((await CheckAsync(stores, a)).FirstPass);
        Clock.Advance(TimeSpan.FromSeconds(50));
        Assert.True((await CheckAsync(stores, b)).FirstPass);
        Clock.Advance(TimeSpan.FromSeconds(400));
        Assert.True((await CheckAsync(stores, c)).FirstPass);
        Assert.False((await CheckAsync(stores, c)).FirstPass);
        await stores.Greylist.Check.PreviewAsync(Mail("d@grey.example", "bob@example.com"), Client, Now, Options, default);
        await stores.Tally.FlushAsync(default);

        var funnel = await stores.Tally.GreylistFunnelAsync(Day.From, Day.To, default);

        Assert.Equal(new GreylistFunnel(FirstAttempts: 3, Retries: 4, Passed: 3, NeverRetried: 0, GaveUp: 0, MedianDelaySeconds: 200), funnel);
        Assert.Equal(1.0, funnel.PassRate);
    }

    [Fact]
    public async Task Expired_pending_triplets_are_counted_never_retried_or_gave_up_when_swept()
    {
        var stores = await OpenAsync();
        var (d, e) = (Mail("d@grey.example", "bob@example.com"), Mail("e@grey.example", "bob@example.com"));
        await CheckAsync(stores, d);
        await CheckAsync(stores, e);
        Clock.Advance(TimeSpan.FromSeconds(30));
        await CheckAsync(stores, e);
        Clock.Advance(TimeSpan.FromHours(6));

        var swept = await stores.Greylist.SweepAsync(Now, 100, default);
        await stores.Tally.FlushAsync(default);

        Assert.Equal(2, swept);
        var funnel = await stores.Tally.GreylistFunnelAsync(Day.From, Day.To, default);
        Assert.Equal((2L, 1L, 0L, 1L, 1L, (double?)0.0), (funnel.FirstAttempts, funnel.Retries, funnel.Passed, funnel.NeverRetried, funnel.GaveUp, funnel.PassRate));
    }

    [Fact]
    public async Task An_expired_pending_triplet_seen_again_counts_as_never_retried_and_starts_over()
    {
        var stores = await OpenAsync();
        var f = Mail("f@grey.example", "bob@example.com");
        await CheckAsync(stores, f);
        Clock.Advance(TimeSpan.FromHours(6));
        Assert.Equal(GreylistRules.New, (await CheckAsync(stores, f)).Rule);
        await stores.Tally.FlushAsync(default);

        var funnel = await stores.Tally.GreylistFunnelAsync(Day.From, Day.To, default);
        Assert.Equal((2L, 0L, 1L), (funnel.FirstAttempts, funnel.Retries, funnel.NeverRetried));
    }

    // ---- the report ---------------------------------------------------------------------------

    [Fact]
    public async Task Report_adds_the_greylist_table_the_bans_and_marks_banned_networks()
    {
        var stores = await OpenAsync();
        var options = Options with { AutoWhitelist = Options.AutoWhitelist with { After = 1 } };
        var triplet = Mail("news@partner.example", "bob@example.com");
        await stores.Greylist.Check.CheckAsync(triplet, Client, Now, options, default);
        Clock.Advance(TimeSpan.FromMinutes(3));
        await stores.Greylist.Check.CheckAsync(triplet, Client, Now, options, default);
        await stores.Greylist.Check.CheckAsync(Mail("other@else.example", "bob@example.com"), Client, Now, options, default);
        await stores.Bans.AddAsync(new DynamicBan(new IPNetwork(IPAddress.Parse("203.0.113.77"), 32), "test", BanSource.Admin, Now, Now.AddDays(1)), default);
        stores.Tally.OnDecision(Session(Spammer, "a@spam.example"), Refusal("ban", "dynamic"));
        stores.Tally.OnDecision(Session(IPAddress.Parse("203.0.113.78"), "b@spam.example"), Refusal("ban", "dynamic"));
        stores.Tally.OnDecision(Session(IPAddress.Parse("192.0.2.1"), "a@spam.example"), Refusal("relay", "relay"));
        await stores.Tally.FlushAsync(default);

        var report = await StatsReporter.CreateAsync(stores, options, Now, TimeSpan.FromHours(24), default);

        Assert.Equal((Start.AddMinutes(4).AddHours(-24), Start.AddMinutes(4)), (report.From, report.To));
        Assert.Equal((1L, 1L, 1L, 1L, 1L), (report.PendingTriplets, report.PassedTriplets, report.AutoWhitelisted, report.AutoWhitelistEntries, report.DynamicBansActive));
        Assert.Equal(["203.0.113.0/24 2 True 203.0.113.77/32", "192.0.2.0/24 1 False "],
            report.TopRefusedNetworks.Select(n => $"{n.Network} {n.Count} {n.Banned} {string.Join(',', n.Bans)}"));
        Assert.Equal((2L, 1L, 180.0), (report.Greylist.FirstAttempts, report.Greylist.Passed, report.Greylist.MedianDelaySeconds!.Value));
        Assert.Equal(3, report.Total("reject"));
        Assert.Equal([new DecisionCount("ban", "reject", "", 2), new DecisionCount("relay", "reject", "", 1)], report.ByFilter);
    }

    private Task<GreylistResult> CheckAsync(MilterStores stores, Triplet triplet) =>
        stores.Greylist.Check.CheckAsync(triplet, Client, Now, Options, default);

    private sealed class RecordingObserver : IStoreObserver
    {
        public List<(bool Write, bool Failed)> Operations { get; } = [];

        public void OnOperation(bool write, TimeSpan elapsed, bool failed)
        {
            Assert.True(elapsed >= TimeSpan.Zero);
            Operations.Add((write, failed));
        }
    }
}
