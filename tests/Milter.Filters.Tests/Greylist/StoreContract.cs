using System.Net;
using Microsoft.Extensions.Time.Testing;
using Milter.Filters.Configuration;
using Milter.Filters.Greylist;
using Milter.Filters.Stores;
using Milter.Filters.Tests.Support;
using static Milter.Filters.Tests.Greylist.GreylistTestData;

namespace Milter.Filters.Tests.Greylist;

/// <summary>
/// One test suite for the greylist and dynamic ban stores, run against SQLite on a temp file
/// (<see cref="SqliteStoreTests"/>) and against a real PostgreSQL (<see cref="PostgresStoreTests"/>).
/// Each test gets a fresh, empty database.
/// </summary>
public abstract class StoreContract : StoreTestBase
{
    private Task<GreylistResult> CheckAsync(GreylistStore store, Triplet triplet, GreylistOptions? options = null, IPAddress? client = null) =>
        store.Check.CheckAsync(triplet, client ?? Client, Clock.GetUtcNow(), options ?? Options, CancellationToken.None);

    private static readonly Triplet AliceToBob = Mail("alice@example.org", "bob@example.com");

    // ---- checks ----------------------------------------------------------------------------

    [Fact]
    public async Task First_attempt_is_deferred_and_a_retry_after_the_delay_passes()
    {
        var store = (await OpenAsync()).Greylist;

        var first = await CheckAsync(store, AliceToBob);
        Clock.Advance(TimeSpan.FromMinutes(2));
        var retry = await CheckAsync(store, AliceToBob);

        Assert.Equal((GreylistAction.Defer, GreylistRules.New, 120L), (first.Action, first.Rule, first.RetrySeconds));
        Assert.Equal((GreylistAction.Pass, GreylistRules.Passed, true), (retry.Action, retry.Rule, retry.FirstPass));
    }

    [Fact]
    public async Task Early_retry_is_deferred_without_resetting_first_seen()
    {
        var store = (await OpenAsync()).Greylist;

        await CheckAsync(store, AliceToBob);
        Clock.Advance(TimeSpan.FromSeconds(90));
        var early = await CheckAsync(store, AliceToBob);
        Clock.Advance(TimeSpan.FromSeconds(30));
        var onTime = await CheckAsync(store, AliceToBob);

        Assert.Equal((GreylistAction.Defer, GreylistRules.Early, 30L), (early.Action, early.Rule, early.RetrySeconds));
        Assert.Equal(GreylistAction.Pass, onTime.Action);
        var row = Assert.Single(await store.Admin.ListTripletsAsync(new GreylistQuery(), Clock.GetUtcNow(), default));
        Assert.Equal((Start, TripletState.Passed, 2), (row.FirstSeen, row.State, row.Deferrals));
    }

    [Fact]
    public async Task Retry_after_the_window_starts_over()
    {
        var store = (await OpenAsync()).Greylist;

        await CheckAsync(store, AliceToBob);
        Clock.Advance(TimeSpan.FromHours(5));
        var late = await CheckAsync(store, AliceToBob);

        Assert.Equal((GreylistAction.Defer, GreylistRules.New), (late.Action, late.Rule));
        var row = Assert.Single(await store.Admin.ListTripletsAsync(new GreylistQuery(), Clock.GetUtcNow(), default));
        Assert.Equal(Clock.GetUtcNow(), row.FirstSeen);
    }

    [Fact]
    public async Task Answered_pass_survives_reopening_the_store()
    {
        var first = await OpenAsync();
        await CheckAsync(first.Greylist, AliceToBob);
        Clock.Advance(TimeSpan.FromMinutes(3));
        Assert.True((await CheckAsync(first.Greylist, AliceToBob)).Passes);
        await first.DisposeAsync();

        var reopened = (await OpenAsync()).Greylist;
        Clock.Advance(TimeSpan.FromDays(10));
        var again = await CheckAsync(reopened, AliceToBob);

        Assert.Equal((GreylistAction.Pass, GreylistRules.Passed, false), (again.Action, again.Rule, again.FirstPass));
    }

    [Fact]
    public async Task Concurrent_first_attempts_of_one_triplet_on_two_hosts_write_one_row_and_all_defer()
    {
        var hostA = (await OpenAsync()).Greylist;
        var hostB = (await OpenAsync()).Greylist;

        var results = await Task.WhenAll(Enumerable.Range(0, 16).Select(i => Task.Run(() => CheckAsync(i % 2 == 0 ? hostA : hostB, AliceToBob))));
        await hostA.WhenAttemptsWrittenAsync(default);
        await hostB.WhenAttemptsWrittenAsync(default);

        Assert.All(results, r => Assert.Equal(GreylistAction.Defer, r.Action));
        // Answers come from reads: checks that read before any of these attempts was recorded all see
        // the triplet as new; the row still ends as if they had come one after another.
        Assert.Contains(results, r => r.Rule == GreylistRules.New);
        Assert.Equal(1, await ScalarAsync("SELECT COUNT(*) FROM greylist_triplet"));
        Assert.Equal(16, await ScalarAsync("SELECT deferrals FROM greylist_triplet"));
        Assert.Equal(Start.ToUnixTimeSeconds(), await ScalarAsync("SELECT first_seen FROM greylist_triplet"));
    }

    [Fact]
    public async Task Concurrent_retries_on_two_hosts_pass_once_and_count_one_auto_whitelist_pass()
    {
        var hostA = (await OpenAsync()).Greylist;
        var hostB = (await OpenAsync()).Greylist;
        await CheckAsync(hostA, AliceToBob);
        // Another host sees the first attempt once it is written (milliseconds later, long before a retry).
        await hostA.WhenAttemptsWrittenAsync(default);
        Clock.Advance(TimeSpan.FromMinutes(3));

        var results = await Task.WhenAll(Enumerable.Range(0, 16).Select(i => Task.Run(() => CheckAsync(i % 2 == 0 ? hostA : hostB, AliceToBob))));

        Assert.All(results, r => Assert.Equal(GreylistAction.Pass, r.Action));
        Assert.Single(results, r => r.FirstPass);
        Assert.Equal(1, await ScalarAsync("SELECT COUNT(*) FROM greylist_triplet WHERE state = 1"));
        Assert.Equal(1, await ScalarAsync("SELECT passes FROM greylist_awl"));
    }

    [Fact]
    public async Task Preview_answers_like_a_check_and_records_nothing()
    {
        var store = (await OpenAsync()).Greylist;

        var preview = await store.Check.PreviewAsync(AliceToBob, Client, Clock.GetUtcNow(), Options, default);

        Assert.Equal((GreylistAction.Defer, GreylistRules.New), (preview.Action, preview.Rule));
        Assert.Equal(0, await ScalarAsync("SELECT COUNT(*) FROM greylist_triplet"));
    }

    // ---- auto-whitelist and bypass ban -----------------------------------------------------

    private async Task PassAsync(GreylistStore store, Triplet triplet)
    {
        await CheckAsync(store, triplet);
        Clock.Advance(TimeSpan.FromMinutes(3));
        Assert.True((await CheckAsync(store, triplet)).Passes);
    }

    [Fact]
    public async Task Auto_whitelist_skips_greylisting_after_enough_passed_triplets()
    {
        var store = (await OpenAsync()).Greylist;
        for (var i = 1; i <= 5; i++)
            await PassAsync(store, Mail($"news{i}@example.org", $"user{i}@example.com"));

        var sameDomain = await CheckAsync(store, Mail("someone@example.org", "new@example.com", IPAddress.Parse("203.0.113.200")));
        var otherDomain = await CheckAsync(store, Mail("someone@other.example", "new@example.com"));
        var otherSubnet = await CheckAsync(store, Mail("someone@example.org", "new@example.com", IPAddress.Parse("203.0.114.1")));

        Assert.Equal((GreylistAction.Pass, GreylistRules.Whitelisted), (sameDomain.Action, sameDomain.Rule));
        Assert.Equal(GreylistRules.New, otherDomain.Rule);
        Assert.Equal(GreylistRules.New, otherSubnet.Rule);
    }

    [Fact]
    public async Task Four_passes_do_not_whitelist_and_bounces_never_do()
    {
        var store = (await OpenAsync()).Greylist;
        for (var i = 1; i <= 4; i++)
            await PassAsync(store, Mail($"news{i}@example.org", $"user{i}@example.com"));
        for (var i = 1; i <= 6; i++)
            await PassAsync(store, Mail("<>", $"user{i}@example.com"));

        Assert.Equal(GreylistRules.New, (await CheckAsync(store, Mail("x@example.org", "new@example.com"))).Rule);
        Assert.Equal(GreylistRules.New, (await CheckAsync(store, Mail("<>", "new@example.com"))).Rule);
    }

    [Fact]
    public async Task A_pass_taken_back_no_longer_counts_and_the_count_never_goes_below_zero()
    {
        var store = (await OpenAsync()).Greylist;
        for (var i = 1; i <= 5; i++)
            await PassAsync(store, Mail($"news{i}@example.org", $"user{i}@example.com"));
        Assert.Equal(5, await ScalarAsync("SELECT passes FROM greylist_awl"));

        await store.Check.UncountAutoWhitelistPassAsync(Mail("news5@example.org", "user5@example.com"), default);

        Assert.Equal(4, await ScalarAsync("SELECT passes FROM greylist_awl"));
        for (var i = 0; i < 6; i++)
            await store.Check.UncountAutoWhitelistPassAsync(Mail("news5@example.org", "user5@example.com"), default);
        Assert.Equal(0, await ScalarAsync("SELECT passes FROM greylist_awl"));
        // Another sender domain's entry, had it one, is untouched; with none, nothing is written.
        await store.Check.UncountAutoWhitelistPassAsync(Mail("someone@other.example", "user5@example.com"), default);
        Assert.Equal(1, await ScalarAsync("SELECT COUNT(*) FROM greylist_awl"));
    }

    [Fact]
    public async Task Auto_whitelist_entry_expires_when_unused_and_is_extended_when_used()
    {
        var store = (await OpenAsync()).Greylist;
        for (var i = 1; i <= 5; i++)
            await PassAsync(store, Mail($"news{i}@example.org", $"user{i}@example.com"));

        Clock.Advance(TimeSpan.FromDays(30));
        Assert.Equal(GreylistRules.Whitelisted, (await CheckAsync(store, Mail("a@example.org", "x@example.com"))).Rule);
        Clock.Advance(TimeSpan.FromDays(30));
        Assert.Equal(GreylistRules.Whitelisted, (await CheckAsync(store, Mail("b@example.org", "y@example.com"))).Rule);
        Clock.Advance(TimeSpan.FromDays(37));
        Assert.Equal(GreylistRules.New, (await CheckAsync(store, Mail("c@example.org", "z@example.com"))).Rule);
    }

    [Fact]
    public async Task Client_that_passed_and_then_misbehaves_is_banned_and_loses_its_whitelist()
    {
        var stores = await OpenAsync();
        for (var i = 1; i <= 5; i++)
            await PassAsync(stores.Greylist, Mail($"news{i}@example.org", $"user{i}@example.com"));
        var client = IPAddress.Parse("203.0.113.77");

        var first = await stores.BypassBans.RecordMisbehaviourAsync(client, ClientKeyOf(client), Clock.GetUtcNow(), Options, [], default);
        Clock.Advance(TimeSpan.FromMinutes(20));
        var second = await stores.BypassBans.RecordMisbehaviourAsync(client, ClientKeyOf(client), Clock.GetUtcNow(), Options, [], default);
        Clock.Advance(TimeSpan.FromMinutes(20));
        var third = await stores.BypassBans.RecordMisbehaviourAsync(client, ClientKeyOf(client), Clock.GetUtcNow(), Options, [], default);

        Assert.Null(first);
        Assert.Null(second);
        Assert.NotNull(third);
        Assert.Equal((IPNetwork.Parse("203.0.113.77/32"), BanSource.Bypass, Clock.GetUtcNow().AddDays(7)), (third.Network, third.Source, third.Expires));
        var found = await stores.Bans.FindAsync(client, Clock.GetUtcNow(), default);
        Assert.Equal(third.Network, found?.Network);
        Assert.Null(await stores.Bans.FindAsync(IPAddress.Parse("203.0.113.78"), Clock.GetUtcNow(), default));
        Assert.Empty(await stores.Greylist.Admin.ListAutoWhitelistAsync(new GreylistQuery(), Clock.GetUtcNow(), default));
        Assert.Equal(GreylistRules.New, (await CheckAsync(stores.Greylist, Mail("later@example.org", "x@example.com"))).Rule);
    }

    [Fact]
    public async Task Rejections_of_a_client_that_never_passed_do_not_ban()
    {
        var stores = await OpenAsync();
        await CheckAsync(stores.Greylist, AliceToBob);

        for (var i = 0; i < 5; i++)
            Assert.Null(await stores.BypassBans.RecordMisbehaviourAsync(Client, ClientKeyOf(Client), Clock.GetUtcNow(), Options, [], default));

        Assert.Empty(await stores.Bans.ListAsync(Clock.GetUtcNow(), default));
        Assert.Equal(0, await ScalarAsync("SELECT COUNT(*) FROM greylist_strike"));
    }

    [Fact]
    public async Task Rejections_spread_beyond_the_window_do_not_ban()
    {
        var stores = await OpenAsync();
        await PassAsync(stores.Greylist, AliceToBob);

        await stores.BypassBans.RecordMisbehaviourAsync(Client, ClientKeyOf(Client), Clock.GetUtcNow(), Options, [], default);
        await stores.BypassBans.RecordMisbehaviourAsync(Client, ClientKeyOf(Client), Clock.GetUtcNow(), Options, [], default);
        Clock.Advance(TimeSpan.FromMinutes(61));
        var third = await stores.BypassBans.RecordMisbehaviourAsync(Client, ClientKeyOf(Client), Clock.GetUtcNow(), Options, [], default);

        Assert.Null(third);
        Assert.Empty(await stores.Bans.ListAsync(Clock.GetUtcNow(), default));
    }

    // ---- sweeping --------------------------------------------------------------------------

    [Fact]
    public async Task Sweep_removes_only_expired_rows()
    {
        var stores = await OpenAsync();
        await PassAsync(stores.Greylist, AliceToBob);
        await CheckAsync(stores.Greylist, Mail("pending@example.org", "bob@example.com"));
        await stores.Bans.AddAsync(new DynamicBan(IPNetwork.Parse("192.0.2.0/24"), "short", BanSource.Admin, Clock.GetUtcNow(), Clock.GetUtcNow().AddHours(1)), default);
        await stores.Bans.AddAsync(new DynamicBan(IPNetwork.Parse("192.0.2.9/32"), "long", BanSource.Admin, Clock.GetUtcNow(), Clock.GetUtcNow().AddDays(1)), default);

        Clock.Advance(TimeSpan.FromHours(6));
        var swept = 0;
        foreach (var store in stores.Expiring)
            swept += await store.SweepAsync(Clock.GetUtcNow(), 1, default) + await store.SweepAsync(Clock.GetUtcNow(), 1, default);

        Assert.Equal(2, swept);
        Assert.Equal(1, await ScalarAsync("SELECT COUNT(*) FROM greylist_triplet"));
        Assert.Equal(1, await ScalarAsync("SELECT COUNT(*) FROM greylist_triplet WHERE state = 1"));
        Assert.Equal(1, await ScalarAsync("SELECT COUNT(*) FROM greylist_awl"));
        Assert.Equal(1, await ScalarAsync("SELECT COUNT(*) FROM dynamic_ban"));
        Assert.Equal(0, await stores.Greylist.SweepAsync(Clock.GetUtcNow(), 100, default));
    }

    [Fact]
    public async Task Sweep_deletes_in_batches_of_the_given_size()
    {
        var store = (await OpenAsync()).Greylist;
        for (var i = 0; i < 7; i++)
            await CheckAsync(store, Mail($"s{i}@example.org", "bob@example.com"));
        Clock.Advance(TimeSpan.FromHours(6));

        var batches = new List<int>();
        int swept;
        while ((swept = await store.SweepAsync(Clock.GetUtcNow(), 3, default)) > 0)
            batches.Add(swept);

        Assert.Equal([3, 3, 1], batches);
    }

    // ---- dynamic bans ----------------------------------------------------------------------

    [Fact]
    public async Task Ban_is_added_extended_found_by_containment_and_removed()
    {
        var bans = (await OpenAsync()).Bans;
        var now = Clock.GetUtcNow();
        var net = IPNetwork.Parse("203.0.113.0/24");

        Assert.True(await bans.AddAsync(new DynamicBan(net, "logscan: 12 rejects", BanSource.Logscan, now, now.AddDays(1)), default));
        Assert.False(await bans.AddAsync(new DynamicBan(net, "again", BanSource.Logscan, now, now.AddHours(12)), default));
        Assert.True(await bans.AddAsync(new DynamicBan(net, "extended", BanSource.Admin, now, now.AddDays(2)), default));
        Assert.True(await bans.AddAsync(new DynamicBan(IPNetwork.Parse("2001:db8::/32"), "v6", BanSource.Admin, now, now.AddDays(1)), default));
        Assert.True(await bans.AddAsync(new DynamicBan(IPNetwork.Parse("198.51.100.7/32"), "host", BanSource.Admin, now, now.AddDays(1)), default));

        var found = await bans.FindAsync(IPAddress.Parse("203.0.113.9"), now, default);
        Assert.Equal(new DynamicBan(net, "extended", BanSource.Admin, now, now.AddDays(2)), found);
        Assert.NotNull(await bans.FindAsync(IPAddress.Parse("::ffff:203.0.113.250"), now, default));
        Assert.NotNull(await bans.FindAsync(IPAddress.Parse("2001:db8:5::1"), now, default));
        Assert.NotNull(await bans.FindAsync(IPAddress.Parse("198.51.100.7"), now, default));
        Assert.Null(await bans.FindAsync(IPAddress.Parse("198.51.100.8"), now, default));
        Assert.Null(await bans.FindAsync(IPAddress.Parse("203.0.114.1"), now, default));
        Assert.Equal(3, (await bans.ListAsync(now, default)).Count);

        Assert.True(await bans.RemoveAsync(net, default));
        Assert.False(await bans.RemoveAsync(net, default));
        Assert.Null(await bans.FindAsync(IPAddress.Parse("203.0.113.9"), now, default));
        Assert.Equal(2, (await bans.ListAsync(now, default)).Count);
    }

    [Fact]
    public async Task Expired_ban_is_neither_found_nor_listed_and_can_be_renewed()
    {
        var bans = (await OpenAsync()).Bans;
        var net = IPNetwork.Parse("192.0.2.0/24");
        await bans.AddAsync(new DynamicBan(net, "short", BanSource.Admin, Clock.GetUtcNow(), Clock.GetUtcNow().AddHours(1)), default);

        Clock.Advance(TimeSpan.FromHours(2));

        Assert.Null(await bans.FindAsync(IPAddress.Parse("192.0.2.1"), Clock.GetUtcNow(), default));
        Assert.Empty(await bans.ListAsync(Clock.GetUtcNow(), default));
        Assert.True(await bans.AddAsync(new DynamicBan(net, "again", BanSource.Logscan, Clock.GetUtcNow(), Clock.GetUtcNow().AddHours(1)), default));
        var renewed = Assert.Single(await bans.ListAsync(Clock.GetUtcNow(), default));
        Assert.Equal((Clock.GetUtcNow(), BanSource.Logscan), (renewed.Created, renewed.Source));
    }

    [Fact]
    public async Task Ban_that_ends_before_it_starts_is_refused()
    {
        var bans = (await OpenAsync()).Bans;

        await Assert.ThrowsAsync<ArgumentException>(() =>
            bans.AddAsync(new DynamicBan(IPNetwork.Parse("192.0.2.0/24"), "x", BanSource.Admin, Start, Start), default));
    }

    [Fact]
    public async Task Ban_added_by_another_host_is_seen_after_the_refresh_period()
    {
        var hostA = (await OpenAsync()).Bans;
        var hostB = (await OpenAsync()).Bans;
        var address = IPAddress.Parse("192.0.2.44");
        Assert.Null(await hostA.FindAsync(address, Clock.GetUtcNow(), default));

        await hostB.AddAsync(new DynamicBan(IPNetwork.Parse("192.0.2.0/24"), "logscan", BanSource.Logscan, Clock.GetUtcNow(), Clock.GetUtcNow().AddDays(1)), default);
        var beforeRefresh = await hostA.FindAsync(address, Clock.GetUtcNow(), default);
        Clock.Advance(TimeSpan.FromSeconds(31));

        Assert.Null(beforeRefresh);
        Assert.NotNull(await Eventually(() => hostA.FindAsync(address, Clock.GetUtcNow(), default).AsTask()));
    }

    // ---- admin -----------------------------------------------------------------------------

    [Fact]
    public async Task Admin_list_filters_by_state_client_sender_and_recipient()
    {
        var store = (await OpenAsync()).Greylist;
        var pending = Mail("alice@example.org", "bob@example.com");
        var passed = Mail("carol@example.org", "bob@example.com");
        var other = Mail("dave@other.example", "erin@example.com", IPAddress.Parse("198.51.100.9"));
        await CheckAsync(store, pending);
        await CheckAsync(store, passed);
        Clock.Advance(TimeSpan.FromMinutes(3));
        await CheckAsync(store, passed);
        await CheckAsync(store, other);

        Task<IReadOnlyList<TripletEntry>> List(GreylistQuery q) => store.Admin.ListTripletsAsync(q, Clock.GetUtcNow(), default);
        static Triplet[] Keys(IReadOnlyList<TripletEntry> rows) => [.. rows.Select(r => r.Triplet)];

        Assert.Equal([other, pending], Keys(await List(new GreylistQuery { State = TripletState.Pending })));
        Assert.Equal([passed], Keys(await List(new GreylistQuery { State = TripletState.Passed })));
        Assert.Equal([passed, pending], Keys(await List(new GreylistQuery { Client = IPNetwork.Parse("203.0.0.0/16") })));
        Assert.Equal([other], Keys(await List(new GreylistQuery { Client = IPNetwork.Parse("198.51.100.9/32") })));
        Assert.Equal([passed, pending], Keys(await List(new GreylistQuery { Sender = "@Example.org" })));
        Assert.Equal([passed], Keys(await List(new GreylistQuery { Sender = "prvs=0123abcdef=Carol@example.org" })));
        Assert.Equal([other], Keys(await List(new GreylistQuery { Recipient = "Erin@example.com" })));
        Assert.Single(await List(new GreylistQuery { Limit = 1 }));
        Assert.Empty(await List(new GreylistQuery { Recipient = "nobody@example.com" }));
    }

    [Fact]
    public async Task Admin_stats_and_auto_whitelist_list_count_live_rows()
    {
        var store = (await OpenAsync()).Greylist;
        for (var i = 1; i <= 5; i++)
            await PassAsync(store, Mail($"news{i}@example.org", $"user{i}@example.com"));
        await PassAsync(store, Mail("x@other.example", "user1@example.com"));
        await CheckAsync(store, Mail("y@third.example", "user1@example.com"));
        await store.Admin.AllowAsync(GreylistAllowEntry.ForSenderDomain("partner.example", "contract", Clock.GetUtcNow()), default);

        var stats = await store.Admin.StatsAsync(Clock.GetUtcNow(), Options, default);
        var whitelisted = await store.Admin.ListAutoWhitelistAsync(new GreylistQuery { MinPasses = Options.AutoWhitelist.After }, Clock.GetUtcNow(), default);
        var all = await store.Admin.ListAutoWhitelistAsync(new GreylistQuery(), Clock.GetUtcNow(), default);
        var byDomain = await store.Admin.ListAutoWhitelistAsync(new GreylistQuery { Sender = "@other.example" }, Clock.GetUtcNow(), default);

        Assert.Equal(new GreylistStats(Pending: 1, Passed: 6, AutoWhitelistEntries: 2, Whitelisted: 1, Allowed: 1, Expired: 0), stats);
        var entry = Assert.Single(whitelisted);
        Assert.Equal(("net:203.0.113.0/24", "example.org", 5), (entry.Client, entry.SenderDomain, entry.Passes));
        Assert.Equal(2, all.Count);
        Assert.Equal("other.example", Assert.Single(byDomain).SenderDomain);
    }

    [Fact]
    public async Task Allow_entry_for_a_network_or_sender_domain_skips_greylisting_until_removed_or_expired()
    {
        var store = (await OpenAsync()).Greylist;
        await store.Admin.AllowAsync(GreylistAllowEntry.ForNetwork(IPNetwork.Parse("203.0.113.0/28"), "partner MX", Clock.GetUtcNow()), default);
        await store.Admin.AllowAsync(GreylistAllowEntry.ForSenderDomain("@Partner.Example", "contract", Clock.GetUtcNow(), Clock.GetUtcNow().AddHours(1)), default);

        var inNetwork = await CheckAsync(store, AliceToBob, client: IPAddress.Parse("203.0.113.5"));
        var outside = await CheckAsync(store, AliceToBob, client: IPAddress.Parse("203.0.113.100"));
        var domain = await CheckAsync(store, Mail("x@partner.example", "bob@example.com", IPAddress.Parse("198.51.100.1")), client: IPAddress.Parse("198.51.100.1"));
        var listed = await store.Admin.ListAllowedAsync(Clock.GetUtcNow(), default);
        Assert.True(await store.Admin.DisallowAsync(GreylistAllowKind.Network, "203.0.113.0/28", default));
        var afterRemoval = await CheckAsync(store, Mail("z@example.org", "bob@example.com"), client: IPAddress.Parse("203.0.113.5"));
        Clock.Advance(TimeSpan.FromHours(2));
        var afterExpiry = await CheckAsync(store, Mail("y@partner.example", "bob@example.com", IPAddress.Parse("198.51.100.1")), client: IPAddress.Parse("198.51.100.1"));

        Assert.Equal((GreylistAction.Pass, GreylistRules.Allowed), (inNetwork.Action, inNetwork.Rule));
        Assert.Equal(GreylistAction.Defer, outside.Action);
        Assert.Equal(GreylistRules.Allowed, domain.Rule);
        Assert.Equal([(GreylistAllowKind.Network, "203.0.113.0/28"), (GreylistAllowKind.SenderDomain, "partner.example")],
            listed.Select(e => (e.Kind, e.Value)).ToArray());
        Assert.Equal(GreylistRules.New, afterRemoval.Rule);
        Assert.Equal(GreylistRules.New, afterExpiry.Rule);
        Assert.False(await store.Admin.DisallowAsync(GreylistAllowKind.Network, "203.0.113.0/28", default));
    }

    [Fact]
    public async Task Remove_and_purge_delete_what_they_match()
    {
        var store = (await OpenAsync()).Greylist;
        await PassAsync(store, Mail("a@example.org", "bob@example.com"));
        await PassAsync(store, Mail("b@example.org", "bob@example.com"));
        await CheckAsync(store, Mail("c@other.example", "bob@example.com"));

        var removed = await store.Admin.RemoveTripletsAsync(new GreylistQuery { Sender = "@example.org" }, Clock.GetUtcNow(), default);
        var removedAwl = await store.Admin.RemoveAutoWhitelistAsync(new GreylistQuery { Client = IPNetwork.Parse("203.0.113.5/32") }, Clock.GetUtcNow(), default);
        var afterRemove = await CheckAsync(store, Mail("a@example.org", "bob@example.com"));
        Clock.Advance(TimeSpan.FromHours(6));
        var purged = await store.Admin.PurgeAsync(Clock.GetUtcNow(), default);

        Assert.Equal((2, 1), (removed, removedAwl));
        Assert.Equal(GreylistRules.New, afterRemove.Rule);
        Assert.Equal(2, purged);
        Assert.Equal(0, await ScalarAsync("SELECT COUNT(*) FROM greylist_triplet"));
    }

    // ---- schema ----------------------------------------------------------------------------

    [Fact]
    public async Task Schema_is_created_from_empty_and_reopening_changes_nothing()
    {
        await (await OpenAsync()).DisposeAsync();
        await (await OpenAsync()).DisposeAsync();

        Assert.Equal(4, await ScalarAsync("SELECT COUNT(*) FROM schema_version"));
        Assert.Equal(4, await ScalarAsync("SELECT MAX(version) FROM schema_version"));
        Assert.Equal(3, await ScalarAsync("SELECT COUNT(*) FROM store_generation WHERE generation = 0"));
        Assert.Equal(0, await ScalarAsync("SELECT COUNT(*) FROM greylist_triplet"));
        Assert.Equal(0, await ScalarAsync("SELECT COUNT(*) FROM dynamic_ban"));
        Assert.Equal(0, await ScalarAsync("SELECT COUNT(*) FROM decision_tally"));
        Assert.Equal(0, await ScalarAsync("SELECT COUNT(*) FROM greylist_tally"));
        Assert.Equal(0, await ScalarAsync("SELECT COUNT(*) FROM decision_tally"));
        Assert.Equal(0, await ScalarAsync("SELECT COUNT(*) FROM greylist_tally"));
    }

    [Fact]
    public async Task A_version_3_store_loses_the_sender_and_recipient_indexes_of_triplets_and_keeps_its_rows()
    {
        var stores = await OpenAsync();
        await CheckAsync(stores.Greylist, Mail("a@example.org", "bob@example.com"));
        await stores.DisposeAsync();
        // The store as version 3 left it.
        await ScalarAsync("CREATE INDEX ix_greylist_triplet_sender ON greylist_triplet (sender_domain, sender)");
        await ScalarAsync("CREATE INDEX ix_greylist_triplet_recipient ON greylist_triplet (recipient)");
        await ScalarAsync("DELETE FROM schema_version WHERE version = 4");
        Assert.Equal(5, await ScalarAsync(CountTripletIndexesSql));

        var store = (await OpenAsync()).Greylist;
        var listed = await store.Admin.ListTripletsAsync(new GreylistQuery { Recipient = "bob@example.com" }, Clock.GetUtcNow(), default);

        // The primary key, expires (the sweep's) and (state, expires) (stats') stay.
        Assert.Equal(3, await ScalarAsync(CountTripletIndexesSql));
        Assert.Equal(4, await ScalarAsync("SELECT MAX(version) FROM schema_version"));
        Assert.Equal(1, await ScalarAsync("SELECT COUNT(*) FROM greylist_triplet"));
        Assert.Equal("bob@example.com", Assert.Single(listed).Triplet.Recipient);
    }

    /// <summary>SQL counting the indexes of greylist_triplet, its primary key's included.</summary>
    protected abstract string CountTripletIndexesSql { get; }

    [Fact]
    public async Task Schema_newer_than_this_build_is_refused()
    {
        await (await OpenAsync()).DisposeAsync();
        await ScalarAsync("INSERT INTO schema_version (version, applied) VALUES (99, 0)");

        var error = await Assert.ThrowsAsync<StoreUnavailableException>(() => OpenAsync());

        Assert.Contains("schema version 99", error.Message, StringComparison.Ordinal);
    }

    // ---- the cache -------------------------------------------------------------------------

    [Fact]
    public async Task Known_sender_is_answered_from_memory_while_the_database_is_unavailable()
    {
        var store = (await OpenAsync(Tuning with { BusyTimeout = TimeSpan.FromMilliseconds(300) })).Greylist;
        var carol = Mail("carol@example.org", "bob@example.com");
        await CheckAsync(store, carol);
        await PassAsync(store, AliceToBob);

        GreylistResult known;
        await using (await MakeUnavailableAsync())
        {
            known = await CheckAsync(store, AliceToBob);
            // Carol's retry passes: a pass must be written before it is answered, and cannot be.
            await Assert.ThrowsAsync<StoreUnavailableException>(() => CheckAsync(store, carol));
        }
        var recovered = await Eventually(async () =>
        {
            try { return await CheckAsync(store, carol); }
            catch (StoreUnavailableException) { return null; }
        });

        Assert.Equal((GreylistAction.Pass, GreylistRules.Passed), (known.Action, known.Rule));
        Assert.Equal((GreylistAction.Pass, true), (recovered?.Action, recovered?.FirstPass));
    }

    [Fact]
    public async Task Cache_hit_extends_the_lifetime_through_the_deferred_flush()
    {
        var store = (await OpenAsync()).Greylist;
        await PassAsync(store, AliceToBob);
        var passedAt = Clock.GetUtcNow();

        Clock.Advance(TimeSpan.FromMinutes(20));
        await CheckAsync(store, AliceToBob);
        var beforeFlush = Assert.Single(await store.Admin.ListTripletsAsync(new GreylistQuery(), Clock.GetUtcNow(), default));
        var pending = store.PendingTouches;
        await store.FlushAsync(default);
        var afterFlush = Assert.Single(await store.Admin.ListTripletsAsync(new GreylistQuery(), Clock.GetUtcNow(), default));

        Assert.Equal(1, pending);
        Assert.Equal(passedAt, beforeFlush.LastSeen);
        Assert.Equal((Clock.GetUtcNow(), Clock.GetUtcNow().AddDays(36)), (afterFlush.LastSeen, afterFlush.Expires));
        Assert.Equal(0, store.PendingTouches);
    }

    [Fact]
    public async Task Pass_removed_by_another_process_stops_passing_after_revalidation()
    {
        var daemon = (await OpenAsync()).Greylist;
        var admin = (await OpenAsync()).Greylist;
        await PassAsync(daemon, AliceToBob);

        await admin.Admin.RemoveTripletsAsync(new GreylistQuery { Sender = "alice@example.org" }, Clock.GetUtcNow(), default);
        var stillCached = await CheckAsync(daemon, AliceToBob);
        Clock.Advance(TimeSpan.FromHours(1));
        var revalidated = await CheckAsync(daemon, AliceToBob);

        Assert.Equal(GreylistAction.Pass, stillCached.Action);
        Assert.Equal(GreylistRules.New, revalidated.Rule);
    }

    [Fact]
    public async Task A_pass_read_before_another_process_removed_it_is_not_cached_past_the_change_poll_that_saw_the_removal()
    {
        var daemon = await OpenAsync();
        var admin = await OpenAsync();
        await PassAsync(admin.Greylist, AliceToBob);
        await daemon.RefreshChangedAsync(default);
        var gate = new ReadGate();
        daemon.Observer = gate;

        // The daemon's check has read the pass; before it answers, the admin removes the triplet and
        // the daemon's change poll sees the removal.
        var check = Task.Run(() => CheckAsync(daemon.Greylist, AliceToBob));
        await gate.Reached.WaitAsync(TimeSpan.FromSeconds(30));
        await admin.Greylist.Admin.RemoveTripletsAsync(new GreylistQuery { Sender = "alice@example.org" }, Clock.GetUtcNow(), default);
        daemon.Observer = null;
        Assert.Contains("greylist", await daemon.RefreshChangedAsync(default));
        gate.Release();
        Assert.Equal(GreylistAction.Pass, (await check).Action); // answered from what it read

        // From the poll on, the triplet is unseen: the pass read before it must not have been cached.
        Assert.Equal(GreylistRules.New, (await CheckAsync(daemon.Greylist, AliceToBob)).Rule);
    }

    /// <summary>Holds the first read that ends after it is made, until released.</summary>
    private sealed class ReadGate : IStoreObserver
    {
        private readonly TaskCompletionSource _reached = new(TaskCreationOptions.RunContinuationsAsynchronously);
        private readonly ManualResetEventSlim _release = new();
        private int _held;

        public Task Reached => _reached.Task;

        public void Release() => _release.Set();

        public void OnOperation(bool write, TimeSpan elapsed, bool failed)
        {
            if (write || Interlocked.Exchange(ref _held, 1) != 0)
                return;
            _reached.SetResult();
            _release.Wait(TimeSpan.FromSeconds(30));
        }
    }

    // ---- changes made by other processes ---------------------------------------------------------

    [Fact]
    public async Task First_change_poll_reports_every_counter_and_a_quiet_store_reports_none()
    {
        var daemon = await OpenAsync();

        var first = await daemon.RefreshChangedAsync(default);
        var second = await daemon.RefreshChangedAsync(default);

        Assert.Equal(["dynamic_ban", "greylist", "greylist_allow"], first);
        Assert.Empty(second);
    }

    [Fact]
    public async Task Ban_added_and_removed_by_another_process_is_seen_at_the_next_change_poll_without_the_refresh_period()
    {
        var daemon = await OpenAsync();
        var admin = await OpenAsync();
        var address = IPAddress.Parse("192.0.2.44");
        await daemon.RefreshChangedAsync(default);
        Assert.Null(await daemon.Bans.FindAsync(address, Clock.GetUtcNow(), default));

        var ban = new DynamicBan(IPNetwork.Parse("192.0.2.0/24"), "admin", BanSource.Admin, Clock.GetUtcNow(), Clock.GetUtcNow().AddDays(1));
        await admin.Bans.AddAsync(ban, default);
        var beforePoll = await daemon.Bans.FindAsync(address, Clock.GetUtcNow(), default);
        var changed = await daemon.RefreshChangedAsync(default);
        var afterPoll = await daemon.Bans.FindAsync(address, Clock.GetUtcNow(), default);
        await admin.Bans.RemoveAsync(ban.Network, default);
        var changedAgain = await daemon.RefreshChangedAsync(default);
        var afterRemoval = await daemon.Bans.FindAsync(address, Clock.GetUtcNow(), default);

        Assert.Null(beforePoll);
        Assert.Equal(["dynamic_ban"], changed);
        Assert.Equal(ban.Network, afterPoll?.Network);
        Assert.Equal(["dynamic_ban"], changedAgain);
        Assert.Null(afterRemoval);
    }

    [Fact]
    public async Task Ban_that_changes_nothing_moves_no_counter()
    {
        var stores = await OpenAsync();
        var ban = new DynamicBan(IPNetwork.Parse("192.0.2.0/24"), "admin", BanSource.Admin, Clock.GetUtcNow(), Clock.GetUtcNow().AddDays(7));
        await stores.Bans.AddAsync(ban, default);
        await stores.RefreshChangedAsync(default);

        var shorter = await stores.Bans.AddAsync(ban with { Expires = Clock.GetUtcNow().AddDays(1) }, default);
        var missing = await stores.Bans.RemoveAsync(IPNetwork.Parse("198.51.100.0/24"), default);

        Assert.False(shorter);
        Assert.False(missing);
        Assert.Empty(await stores.RefreshChangedAsync(default));
    }

    [Fact]
    public async Task Allow_entry_added_by_another_process_is_seen_at_the_next_change_poll()
    {
        var daemon = await OpenAsync();
        var admin = await OpenAsync();
        await daemon.RefreshChangedAsync(default);
        var before = await CheckAsync(daemon.Greylist, AliceToBob);

        await admin.Greylist.Admin.AllowAsync(GreylistAllowEntry.ForSenderDomain("example.org", "partner", Clock.GetUtcNow()), default);
        var changed = await daemon.RefreshChangedAsync(default);
        var after = await CheckAsync(daemon.Greylist, Mail("bob@example.org", "carol@example.com"));

        Assert.Equal(GreylistRules.New, before.Rule);
        Assert.Equal(["greylist_allow"], changed);
        Assert.Equal((GreylistAction.Pass, GreylistRules.Allowed), (after.Action, after.Rule));
    }

    [Fact]
    public async Task Pass_removed_by_another_process_stops_passing_at_the_next_change_poll()
    {
        var daemon = await OpenAsync();
        var admin = await OpenAsync();
        await daemon.RefreshChangedAsync(default);
        await PassAsync(daemon.Greylist, AliceToBob);

        var removed = await admin.Greylist.Admin.RemoveTripletsAsync(new GreylistQuery { Sender = "alice@example.org" }, Clock.GetUtcNow(), default);
        var stillCached = await CheckAsync(daemon.Greylist, AliceToBob);
        var changed = await daemon.RefreshChangedAsync(default);
        var afterPoll = await CheckAsync(daemon.Greylist, AliceToBob);

        Assert.Equal(1, removed);
        Assert.Equal(GreylistAction.Pass, stillCached.Action);
        Assert.Equal(["greylist"], changed);
        Assert.Equal(GreylistRules.New, afterPoll.Rule);
    }

    [Fact]
    public async Task Top_pending_clients_are_counted_per_client_key_most_first()
    {
        var store = (await OpenAsync()).Greylist;
        var busy = IPAddress.Parse("198.51.100.9");
        for (var i = 1; i <= 3; i++)
            await CheckAsync(store, Mail($"s{i}@spam.example", "bob@example.com", busy), client: busy);
        await CheckAsync(store, AliceToBob);
        await PassAsync(store, Mail("carol@example.org", "bob@example.com"));
        Clock.Advance(TimeSpan.FromMinutes(1));

        var top = await store.Admin.TopPendingClientsAsync(10, Clock.GetUtcNow(), default);
        var first = await store.Admin.TopPendingClientsAsync(1, Clock.GetUtcNow(), default);

        Assert.Equal([("net:198.51.100.0/24", 3L), ("net:203.0.113.0/24", 1L)], top.Select(t => (t.Client, t.Pending)));
        Assert.Equal(Start, top[0].LastSeen);
        Assert.Single(first);
    }

    /// <summary>Polls until <paramref name="probe"/> returns non-null (background reloads), for at most 10 s.</summary>
    protected static async Task<T?> Eventually<T>(Func<Task<T?>> probe) where T : class
    {
        var deadline = DateTime.UtcNow.AddSeconds(10);
        while (true)
        {
            if (await probe() is { } value)
                return value;
            if (DateTime.UtcNow > deadline)
                return null;
            await Task.Delay(20);
        }
    }
}
