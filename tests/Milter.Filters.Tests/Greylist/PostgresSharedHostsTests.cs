using System.Net;
using Milter.Filters.Context;
using Milter.Filters.Greylist;
using Milter.Filters.Stores;
using Milter.Filters.Tests.Support;
using Milter.TestSupport;
using Npgsql;
using static Milter.Filters.Tests.Greylist.GreylistTestData;

namespace Milter.Filters.Tests.Greylist;

/// <summary>
/// Two MX hosts on one PostgreSQL database, their transactions interleaved on purpose (another
/// connection holds a lock so that each step waits where a busy server would make it wait).
/// </summary>
[Collection(PostgresCollection.Name)]
public sealed class PostgresSharedHostsTests(PrivatePostgres server) : StoreTestBase
{
    private readonly PostgresTestDatabase _database = new(server);

    protected override Task<string> CreateDatabaseAsync() => _database.CreateAsync(nameof(PostgresSharedHostsTests));

    protected override Task<long> ScalarAsync(string sql) => _database.ScalarAsync(sql);

    protected override Task<IAsyncDisposable> MakeUnavailableAsync() => _database.CrashAsync();

    private static async Task ExecuteAsync(NpgsqlConnection connection, string sql)
    {
        await using var command = new NpgsqlCommand(sql, connection);
        await command.ExecuteNonQueryAsync();
    }

    // Until `count` backends of this database wait for a lock.
    // The writer of deferred attempts gathers on the fake clock: moved on a little at each poll.
    private async Task WaitForLockWaitersAsync(int count)
    {
        for (var i = 0; i < 500; i++)
        {
            Clock.Advance(TimeSpan.FromMilliseconds(50));
            if (await ScalarAsync("SELECT COUNT(*) FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'") >= count)
                return;
            await Task.Delay(20);
        }
        throw new TimeoutException($"{count} lock waiters never showed up");
    }

    [Fact]
    public async Task A_ban_renewed_by_another_host_while_this_host_sweeps_the_expired_one_survives_the_sweep()
    {
        var here = await OpenAsync();
        var there = await OpenAsync();
        var network = IPNetwork.Parse("198.51.100.7/32");
        var now = Clock.GetUtcNow();
        await here.Bans.AddAsync(new DynamicBan(network, "first offence", BanSource.Logscan, now, now + TimeSpan.FromDays(7)), default);
        Clock.Advance(TimeSpan.FromDays(8)); // the first ban is over, not swept yet
        now = Clock.GetUtcNow();

        // Another program holds the change counter's row, so the renewal on "there" waits in its
        // transaction right after its upsert, as any busy moment would make it.
        await using var other = await _database.ConnectAsync();
        await ExecuteAsync(other, "BEGIN");
        await ExecuteAsync(other, "UPDATE store_generation SET generation = generation WHERE name = 'dynamic_ban'");
        var renewal = there.Bans.AddAsync(new DynamicBan(network, "repeat offender", BanSource.Logscan, now, now + TimeSpan.FromDays(30)), default);
        await WaitForLockWaitersAsync(1);
        var sweep = here.Bans.SweepAsync(now, 100, default);
        await WaitForLockWaitersAsync(2);
        await ExecuteAsync(other, "COMMIT");
        Assert.True(await renewal);
        await sweep;

        // The renewed ban (expires in 30 days) must still be there.
        Assert.Equal(1, await ScalarAsync($"SELECT COUNT(*) FROM dynamic_ban WHERE network = '{network}' AND expires > {now.ToUnixTimeSeconds()}"));
    }

    [Fact]
    public async Task A_first_attempt_recorded_by_another_host_on_an_expired_row_survives_this_hosts_sweep()
    {
        var here = await OpenAsync();
        // "there" gathers its attempts, so that the two below are written in one transaction.
        var there = await OpenAsync(new StoreOptions { AttemptGather = TimeSpan.FromMilliseconds(200) });
        var old = Mail("alice@example.org", "bob@example.com");
        var other = Mail("carol@example.org", "bob@example.com");
        await here.Greylist.Check.CheckAsync(old, Client, Clock.GetUtcNow(), Options, default);
        await here.Greylist.WhenAttemptsWrittenAsync(default);
        Clock.Advance(Options.RetryWindow + TimeSpan.FromMinutes(1)); // never retried: expired, not swept yet
        var now = Clock.GetUtcNow();

        // Another program is inserting `other` (uncommitted): "there"'s batch waits on it after it has
        // written the new first attempt of `old` over the expired row.
        await using var blocker = await _database.ConnectAsync();
        await ExecuteAsync(blocker, "BEGIN");
        await ExecuteAsync(blocker,
            "INSERT INTO greylist_triplet (client, sender, recipient, sender_domain, state, first_seen, last_seen, expires, deferrals) " +
            $"VALUES ('{other.Client}', '{other.Sender}', '{other.Recipient}', '{other.SenderDomain}', 0, 1, 1, 2, 1)");
        var first = await there.Greylist.Check.CheckAsync(old, Client, now, Options, default);
        Assert.Equal(GreylistRules.New, first.Rule);
        await there.Greylist.Check.CheckAsync(other, Client, now, Options, default);
        var written = there.Greylist.WhenAttemptsWrittenAsync(default);
        await WaitForLockWaitersAsync(1);
        // The sweep skips the row "there" holds rather than wait for it (a wait there could close a deadlock).
        await here.Greylist.SweepAsync(now, 100, default);
        await ExecuteAsync(blocker, "ROLLBACK");
        await written;

        // The new first attempt of `old` (expires a retry window from now) must be kept.
        Assert.Equal(1, await ScalarAsync(
            $"SELECT COUNT(*) FROM greylist_triplet WHERE sender = '{old.Sender}' AND expires > {now.ToUnixTimeSeconds()}"));
    }

    [Fact]
    public async Task Two_hosts_writing_the_same_first_attempts_in_opposite_orders_lose_none_of_them_to_a_deadlock()
    {
        var options = new StoreOptions { AttemptGather = TimeSpan.FromMilliseconds(200) };
        var one = await OpenAsync(options);
        var two = await OpenAsync(options);
        var x = Mail("x@spam.example", "bob@example.com");
        var y = Mail("y@spam.example", "bob@example.com");
        // Each insert holds its transaction a moment, as a loaded server would: both hosts have
        // written their first row before either writes its second.
        await ScalarAsync("""
            CREATE FUNCTION slow_insert() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN PERFORM pg_sleep(0.5); RETURN NEW; END $$;
            CREATE TRIGGER slow_insert AFTER INSERT ON greylist_triplet FOR EACH ROW EXECUTE FUNCTION slow_insert();
            """);
        var now = Clock.GetUtcNow();

        await one.Greylist.Check.CheckAsync(x, Client, now, Options, default);
        await one.Greylist.Check.CheckAsync(y, Client, now, Options, default);
        await two.Greylist.Check.CheckAsync(y, Client, now, Options, default);
        await two.Greylist.Check.CheckAsync(x, Client, now, Options, default);
        var written = Task.WhenAll(one.Greylist.WhenAttemptsWrittenAsync(default), two.Greylist.WhenAttemptsWrittenAsync(default));
        for (var i = 0; i < 500 && !written.IsCompleted; i++)
        {
            Clock.Advance(TimeSpan.FromMilliseconds(50));
            await Task.Delay(20);
        }
        await written;

        // Four deferrals answered, two per triplet; a deadlock victim's batch is dropped.
        Assert.Equal(4, await ScalarAsync("SELECT COALESCE(SUM(deferrals), 0) FROM greylist_triplet"));
    }

    [Fact]
    public async Task Two_hosts_flushing_the_same_tally_rows_in_opposite_orders_lose_no_flush_to_a_deadlock()
    {
        var one = await OpenAsync();
        var two = await OpenAsync();
        // Each upsert holds its transaction a moment: both hosts have written their first row before either writes its second.
        await ScalarAsync("""
            CREATE FUNCTION slow_tally() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN PERFORM pg_sleep(0.5); RETURN NEW; END $$;
            CREATE TRIGGER slow_tally AFTER INSERT OR UPDATE ON decision_tally FOR EACH ROW EXECUTE FUNCTION slow_tally();
            """);
        var a = new SessionContext { ClientAddress = IPAddress.Parse("192.0.2.1"), Sender = "a@one.example" };
        var b = new SessionContext { ClientAddress = IPAddress.Parse("198.51.100.1"), Sender = "b@two.example" };
        // The same minute's rows, counted in opposite orders on the two hosts.
        one.Tally.OnAccepted(a);
        one.Tally.OnAccepted(b);
        two.Tally.OnAccepted(b);
        two.Tally.OnAccepted(a);

        await Task.WhenAll(one.Tally.FlushAsync(default), two.Tally.FlushAsync(default));

        // Four messages counted, all in this flush: none put back for a later one by a deadlock.
        Assert.Equal(4, await ScalarAsync("SELECT COALESCE(SUM(n), 0) FROM decision_tally"));
        Assert.Equal((0, 0), (one.Tally.Pending, two.Tally.Pending));
    }

    [Fact]
    public async Task A_bypass_ban_on_another_host_ends_the_auto_whitelisting_this_host_cached_at_the_next_change_poll()
    {
        var here = await OpenAsync();
        var there = await OpenAsync();
        await here.RefreshChangedAsync(default);
        var now = Clock.GetUtcNow().ToUnixTimeSeconds();
        var key = ClientKeyOf(Client);
        // The client's network came back five times with mail of example.org: whitelisted.
        await ScalarAsync("INSERT INTO greylist_awl (client, sender_domain, passes, first_seen, last_seen, expires) " +
            $"VALUES ('{key}', 'example.org', 5, {now}, {now}, {now + 86400})");
        var known = await here.Greylist.Check.CheckAsync(Mail("alice@example.org", "bob@example.com"), Client, Clock.GetUtcNow(), Options, default);
        Assert.Equal(GreylistRules.Whitelisted, known.Rule);

        // Then it misbehaves on the other MX host, which bans it and removes its auto-whitelist entry.
        DynamicBan? ban = null;
        for (var i = 0; i < Options.BypassBan.After; i++)
            ban = await there.BypassBans.RecordMisbehaviourAsync(Client, key, Clock.GetUtcNow(), Options, [], default);
        Assert.NotNull(ban);
        Assert.Equal(0, await ScalarAsync("SELECT COUNT(*) FROM greylist_awl"));
        Clock.Advance(TimeSpan.FromSeconds(2));
        await here.RefreshChangedAsync(default);

        // A neighbour in the same network (not banned: the ban is the offender's own address) is greylisted again here too.
        var neighbour = IPAddress.Parse("203.0.113.77");
        var next = await here.Greylist.Check.CheckAsync(Mail("carol@example.org", "dave@example.com", neighbour), neighbour, Clock.GetUtcNow(), Options, default);
        Assert.Equal(GreylistRules.New, next.Rule);
    }

    [Fact]
    public async Task Two_hosts_sweeping_the_same_expired_rows_at_once_both_finish_and_count_each_row_once()
    {
        var one = await OpenAsync();
        var two = await OpenAsync();
        var now = Clock.GetUtcNow().ToUnixTimeSeconds();
        await ScalarAsync("INSERT INTO greylist_triplet (client, sender, recipient, sender_domain, state, first_seen, last_seen, expires, deferrals) " +
            $"SELECT 'net:192.0.2.0/24', 's' || i || '@spam.example', 'r' || (2000 - i) || '@example.com', 'spam.example', 0, {now - 3600}, {now - 3600}, {now - 1}, 1 " +
            "FROM generate_series(1, 2000) AS i");
        var sweeps = await Task.WhenAll(SweepAllAsync(one), SweepAllAsync(two));

        Assert.Equal(2000, sweeps.Sum());
        Assert.Equal(0, await ScalarAsync("SELECT COUNT(*) FROM greylist_triplet"));

        async Task<int> SweepAllAsync(MilterStores stores)
        {
            var total = 0;
            for (int swept; (swept = await stores.Greylist.SweepAsync(Clock.GetUtcNow(), 100, default)) > 0;)
                total += swept;
            return total;
        }
    }

    [Fact]
    public async Task A_sweep_and_another_hosts_first_attempts_on_the_expired_rows_it_deletes_lose_none_of_them_to_a_deadlock()
    {
        var here = await OpenAsync();
        var there = await OpenAsync(new StoreOptions { AttemptGather = TimeSpan.FromMilliseconds(200) });
        // zed's row comes first in the table (the sweep's order), amy's first in key order (the writer's).
        var zed = Mail("zed@spam.example", "bob@example.com");
        var amy = Mail("amy@spam.example", "bob@example.com");
        await here.Greylist.Check.CheckAsync(zed, Client, Clock.GetUtcNow(), Options, default);
        await here.Greylist.WhenAttemptsWrittenAsync(default);
        await here.Greylist.Check.CheckAsync(amy, Client, Clock.GetUtcNow(), Options, default);
        await here.Greylist.WhenAttemptsWrittenAsync(default);
        Clock.Advance(Options.RetryWindow + TimeSpan.FromMinutes(1)); // never retried: expired, not swept yet
        var now = Clock.GetUtcNow();
        // The sweep holds zed's row a moment after locking it, as a loaded server would.
        await ScalarAsync("""
            CREATE FUNCTION slow_delete() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN IF OLD.sender = 'zed@spam.example' THEN PERFORM pg_sleep(1); END IF; RETURN OLD; END $$;
            CREATE TRIGGER slow_delete BEFORE DELETE ON greylist_triplet FOR EACH ROW EXECUTE FUNCTION slow_delete();
            """);

        var sweep = here.Greylist.SweepAsync(now, 100, default);
        for (var i = 0; i < 100 && await ScalarAsync("SELECT COUNT(*) FROM pg_stat_activity WHERE wait_event = 'PgSleep'") == 0; i++)
            await Task.Delay(10);
        // Both come back meanwhile, to the other MX host: new first attempts over the expired rows.
        Assert.Equal(GreylistRules.New, (await there.Greylist.Check.CheckAsync(zed, Client, now, Options, default)).Rule);
        Assert.Equal(GreylistRules.New, (await there.Greylist.Check.CheckAsync(amy, Client, now, Options, default)).Rule);
        var written = there.Greylist.WhenAttemptsWrittenAsync(default);
        for (var i = 0; i < 500 && !(written.IsCompleted && sweep.IsCompleted); i++)
        {
            Clock.Advance(TimeSpan.FromMilliseconds(50));
            await Task.Delay(20);
        }
        await sweep;
        await written;

        // Both new first attempts are recorded: their senders wait one delay, not two.
        Assert.Equal(2, await ScalarAsync($"SELECT COUNT(*) FROM greylist_triplet WHERE first_seen = {now.ToUnixTimeSeconds()}"));
    }

    [Fact]
    public async Task Lifetime_extensions_are_written_in_key_order_whatever_order_the_hits_came_in()
    {
        var stores = await OpenAsync();
        var now = Clock.GetUtcNow().ToUnixTimeSeconds();
        var key = ClientKeyOf(Client);
        // Twenty passed triplets of one client, last used a day ago: a use now owes each an extension.
        await ScalarAsync("INSERT INTO greylist_triplet (client, sender, recipient, sender_domain, state, first_seen, last_seen, expires, deferrals) " +
            $"SELECT '{key}', 's' || lpad(i::text, 2, '0') || '@list.example', 'bob@example.com', 'list.example', 1, {now - 86400}, {now - 86400}, {now + 86400}, 1 " +
            "FROM generate_series(0, 19) AS i");
        await ScalarAsync("""
            CREATE TABLE touch_log (id BIGSERIAL PRIMARY KEY, sender TEXT NOT NULL);
            CREATE FUNCTION log_touch() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN INSERT INTO touch_log (sender) VALUES (NEW.sender); RETURN NEW; END $$;
            CREATE TRIGGER log_touch AFTER UPDATE ON greylist_triplet FOR EACH ROW EXECUTE FUNCTION log_touch();
            """);
        var senders = Enumerable.Range(0, 20).Select(i => $"s{i:00}@list.example").ToList();
        foreach (var sender in Enumerable.Reverse(senders))
            Assert.Equal(GreylistRules.Passed, (await stores.Greylist.Check.CheckAsync(Mail(sender, "bob@example.com"), Client, Clock.GetUtcNow(), Options, default)).Rule);

        await stores.Greylist.FlushAsync(default);

        // The order every MX host writes them in (each holds its own in an order of its own: a hash
        // table's, seeded per process), so that two hosts flushing the same rows cannot deadlock.
        var written = new List<string>();
        await using var connection = await _database.ConnectAsync();
        await using (var command = new NpgsqlCommand("SELECT sender FROM touch_log ORDER BY id", connection))
        await using (var reader = await command.ExecuteReaderAsync())
        {
            while (await reader.ReadAsync())
                written.Add(reader.GetString(0));
        }
        Assert.Equal(senders, written);
    }

    [Fact]
    public async Task An_admin_removal_and_another_hosts_attempts_on_the_rows_it_removes_do_not_deadlock()
    {
        var admin = await OpenAsync();
        var there = await OpenAsync(new StoreOptions { AttemptGather = TimeSpan.FromMilliseconds(200) });
        // zed was seen last (first in the listing the removal deletes by), amy first in key order (the writer's).
        var zed = Mail("zed@spam.example", "bob@example.com");
        var amy = Mail("amy@spam.example", "bob@example.com");
        await admin.Greylist.Check.CheckAsync(amy, Client, Clock.GetUtcNow(), Options, default);
        await admin.Greylist.WhenAttemptsWrittenAsync(default);
        Clock.Advance(TimeSpan.FromSeconds(10));
        await admin.Greylist.Check.CheckAsync(zed, Client, Clock.GetUtcNow(), Options, default);
        await admin.Greylist.WhenAttemptsWrittenAsync(default);
        Clock.Advance(TimeSpan.FromSeconds(10));
        var now = Clock.GetUtcNow();
        // The removal holds zed's row a moment after locking it, as a loaded server would.
        await ScalarAsync("""
            CREATE FUNCTION slow_delete() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN IF OLD.sender = 'zed@spam.example' THEN PERFORM pg_sleep(1); END IF; RETURN OLD; END $$;
            CREATE TRIGGER slow_delete BEFORE DELETE ON greylist_triplet FOR EACH ROW EXECUTE FUNCTION slow_delete();
            """);

        var removal = admin.Greylist.Admin.RemoveTripletsAsync(new GreylistQuery { Sender = "@spam.example" }, now, default);
        for (var i = 0; i < 100 && await ScalarAsync("SELECT COUNT(*) FROM pg_stat_activity WHERE wait_event = 'PgSleep'") == 0; i++)
            await Task.Delay(10);
        // Both retry meanwhile, too early, at the other MX host.
        Assert.Equal(GreylistRules.Early, (await there.Greylist.Check.CheckAsync(amy, Client, now, Options, default)).Rule);
        Assert.Equal(GreylistRules.Early, (await there.Greylist.Check.CheckAsync(zed, Client, now, Options, default)).Rule);
        var written = there.Greylist.WhenAttemptsWrittenAsync(default);
        for (var i = 0; i < 500 && !(written.IsCompleted && removal.IsCompleted); i++)
        {
            Clock.Advance(TimeSpan.FromMilliseconds(50));
            await Task.Delay(20);
        }
        Assert.Equal(2, await removal);
        await written;

        // Removed, then seen again: both recorded anew, neither lost to a deadlock victim's rollback.
        Assert.Equal(2, await ScalarAsync($"SELECT COUNT(*) FROM greylist_triplet WHERE first_seen = {now.ToUnixTimeSeconds()}"));
    }
}
