using Microsoft.Data.Sqlite;
using Microsoft.Extensions.Logging.Testing;
using Microsoft.Extensions.Logging;
using Milter.Filters.Greylist;
using Milter.Filters.Stores;
using Milter.Filters.Tests.Support;
using static Milter.Filters.Tests.Greylist.GreylistTestData;

namespace Milter.Filters.Tests.Greylist;

/// <summary>The store suite on a SQLite file in a temp folder of its own.</summary>
public sealed class SqliteStoreTests : StoreContract
{
    private readonly SqliteTestFile _file = new("store", Path.Combine("db", "milterhost.db"));

    private string FilePath => _file.FilePath;

    protected override Task<string> CreateDatabaseAsync() => Task.FromResult(_file.Setting);

    protected override Task<long> ScalarAsync(string sql) => _file.ScalarAsync(sql);

    protected override string CountTripletIndexesSql => "SELECT COUNT(*) FROM sqlite_master WHERE type = 'index' AND tbl_name = 'greylist_triplet'";

    // Another process holding the write lock: writers wait out their busy timeout, readers go on.
    protected override Task<IAsyncDisposable> MakeUnavailableAsync() => _file.LockAsync();

    [Fact]
    public async Task Sqlite_file_and_folder_are_created_in_wal_mode()
    {
        await OpenAsync();

        Assert.True(File.Exists(FilePath));
        await using var connection = new SqliteConnection($"Data Source={FilePath};Pooling=False");
        await connection.OpenAsync();
        await using var command = connection.CreateCommand();
        command.CommandText = "PRAGMA journal_mode";
        Assert.Equal("wal", await command.ExecuteScalarAsync());
    }

    [Fact]
    public async Task A_first_attempt_commits_without_waiting_for_the_disk_and_a_pass_waits_for_it()
    {
        var stores = await OpenAsync();
        var triplet = Mail("alice@example.org", "bob@example.com");

        var first = await stores.Greylist.Check.CheckAsync(triplet, Client, Clock.GetUtcNow(), Options, CancellationToken.None);
        Assert.Equal(GreylistAction.Defer, first.Action);
        await stores.Greylist.WhenAttemptsWrittenAsync(default);
        Assert.Equal(1L, await SynchronousAsync(stores)); // NORMAL: the WAL is written, not synced
        Assert.Equal(1L, await ScalarAsync("SELECT COUNT(*) FROM greylist_triplet WHERE state = 0"));

        Clock.Advance(TimeSpan.FromMinutes(2));
        var retry = await stores.Greylist.Check.CheckAsync(triplet, Client, Clock.GetUtcNow(), Options, CancellationToken.None);
        Assert.True(retry.FirstPass);
        Assert.Equal(2L, await SynchronousAsync(stores)); // FULL: the pass (and the WAL before it) is on disk

        var other = Mail("carol@example.org", "bob@example.com");
        await stores.Greylist.Check.CheckAsync(other, Client, Clock.GetUtcNow(), Options, CancellationToken.None);
        await stores.Greylist.WhenAttemptsWrittenAsync(default);
        Assert.Equal(1L, await SynchronousAsync(stores));
    }

    [Fact]
    public async Task While_another_process_holds_the_write_lock_the_first_new_triplet_is_deferred_its_lost_write_logged_and_then_on_error_applies()
    {
        var collector = new FakeLogCollector();
        using var loggers = LoggerFactory.Create(builder => builder.AddProvider(new FakeLoggerProvider(collector)));
        var stores = await StoreFactory.OpenAsync(Database, Clock, loggers, Tuning with { BusyTimeout = TimeSpan.FromMilliseconds(200) });
        await using var _ = stores;
        var triplet = Mail("alice@example.org", "bob@example.com");

        GreylistResult locked;
        await using (await _file.LockAsync())
        {
            // In WAL mode readers go on: the answer comes from a read; its write waits for the lock and gives up.
            locked = await stores.Greylist.Check.CheckAsync(triplet, Client, Clock.GetUtcNow(), Options, CancellationToken.None);
            await stores.Greylist.WhenAttemptsWrittenAsync(default);
            // From then on each attempt is written before it is answered, so the failure reaches on_error.
            await Assert.ThrowsAsync<StoreUnavailableException>(() =>
                stores.Greylist.Check.CheckAsync(Mail("carol@example.org", "bob@example.com"), Client, Clock.GetUtcNow(), Options, CancellationToken.None));
        }
        Clock.Advance(TimeSpan.FromMinutes(3));
        var retry = await stores.Greylist.Check.CheckAsync(triplet, Client, Clock.GetUtcNow(), Options, CancellationToken.None);

        Assert.Equal((GreylistAction.Defer, GreylistRules.New), (locked.Action, locked.Rule));
        var lost = Assert.Single(collector.GetSnapshot(), r => r.Id.Id == 3711);
        Assert.Equal(LogLevel.Warning, lost.Level);
        Assert.Contains("Writing 1 greylist attempts failed", lost.Message, StringComparison.Ordinal);
        // The lost first attempt costs the sender one more delay; this one is written before the answer.
        Assert.Equal((GreylistAction.Defer, GreylistRules.New), (retry.Action, retry.Rule));
        Assert.Equal(1, await ScalarAsync("SELECT COUNT(*) FROM greylist_triplet"));
    }

    [Fact]
    public async Task A_burst_of_new_triplets_is_written_in_a_few_transactions()
    {
        var stores = await OpenAsync();
        var writes = new WriteCounter();
        stores.Observer = writes;
        var triplets = Enumerable.Range(0, 200).Select(i => Mail($"sender{i}@example.org", "bob@example.com")).ToList();

        IReadOnlyList<GreylistResult> results;
        await using (await _file.LockAsync())
        {
            // The first attempt's write waits for the lock; the other 199 queue up behind it meanwhile.
            results = await Task.WhenAll(triplets.Select(t => Task.Run(() =>
                stores.Greylist.Check.CheckAsync(t, Client, Clock.GetUtcNow(), Options, CancellationToken.None))));
        }
        await stores.Greylist.WhenAttemptsWrittenAsync(default);

        Assert.All(results, r => Assert.Equal((GreylistAction.Defer, GreylistRules.New), (r.Action, r.Rule)));
        Assert.Equal(200, await ScalarAsync("SELECT COUNT(*) FROM greylist_triplet WHERE state = 0 AND deferrals = 1"));
        // Not one transaction per triplet: transactions of 16 rows, doubling while each holds the writer
        // under a millisecond (16 + 32 + 64 + 88 here), halving when one takes longer than 2 ms.
        Assert.InRange(writes.Count, 1, 12);
    }

    private sealed class WriteCounter : IStoreObserver
    {
        private int _count;

        public int Count => Volatile.Read(ref _count);

        public void OnOperation(bool write, TimeSpan elapsed, bool failed)
        {
            if (write)
                Interlocked.Increment(ref _count);
        }
    }

    [Fact]
    public async Task A_connection_keeps_each_statement_compiled_for_the_next_call_with_the_same_sql()
    {
        var stores = await OpenAsync();

        var (before, afterFirst, afterSecond, reused, client) = await stores.Database.RunAsync(async (session, ct) =>
        {
            var connection = Assert.IsType<PreparingSqliteConnection>(session.Connection);
            var before = connection.PreparedCount;
            await GreylistRows.ReadAutoWhitelistAsync(session, "192.0.2.0/24", "sender.example", ct);
            var afterFirst = connection.PreparedCount;
            var kept = connection.FindPrepared(StoreSql.SelectAwl);
            Assert.NotNull(kept);
            await GreylistRows.ReadAutoWhitelistAsync(session, "198.51.100.0/24", "other.example", ct);
            var again = connection.FindPrepared(StoreSql.SelectAwl);
            return (before, afterFirst, connection.PreparedCount, ReferenceEquals(kept, again),
                again?.Parameters.Cast<SqliteParameter>().Select(p => p.Value).OfType<string>().FirstOrDefault());
        }, CancellationToken.None);

        Assert.Equal(before + 1, afterFirst);
        Assert.Equal(afterFirst, afterSecond);
        Assert.True(reused, "the second call with the same SQL ran on the kept command");
        // The kept command's parameters were given the second call's values in place.
        Assert.Equal("198.51.100.0/24", client);
    }

    [Fact]
    public async Task A_kept_statement_binds_its_parameters_by_the_names_its_sql_writes()
    {
        var stores = await OpenAsync();

        var names = await stores.Database.RunAsync(async (session, ct) =>
        {
            var connection = Assert.IsType<PreparingSqliteConnection>(session.Connection);
            await GreylistRows.ReadAutoWhitelistAsync(session, "192.0.2.0/24", "sender.example", ct);
            await GreylistRows.ReadAutoWhitelistAsync(session, "198.51.100.0/24", "other.example", ct);
            return connection.FindPrepared(StoreSql.SelectAwl)!.Parameters.Cast<SqliteParameter>().Select(p => p.ParameterName).ToArray();
        }, CancellationToken.None);

        // Dapper adds them as "Client" and "SenderDomain"; so named, Microsoft.Data.Sqlite would look
        // each up four times (bare, @, $, :), building the names anew on every execution.
        Assert.Equal(["@Client", "@SenderDomain"], names);
    }

    [Fact]
    public async Task The_check_read_finds_no_row_for_a_first_attempt_and_one_when_the_triplet_or_its_auto_whitelist_entry_exists()
    {
        var stores = await OpenAsync();
        await _file.ScalarAsync("INSERT INTO greylist_triplet (client, sender, recipient, sender_domain, state, first_seen, last_seen, expires, deferrals) " +
            "VALUES ('192.0.2.0/24', 'a@known.example', 'rcpt@example.com', 'known.example', 0, 1, 1, 9999999999, 1)");
        await _file.ScalarAsync("INSERT INTO greylist_awl (client, sender_domain, passes, first_seen, last_seen, expires) " +
            "VALUES ('198.51.100.0/24', 'listed.example', 5, 1, 1, 9999999999)");

        Task<int> RowsAsync(string client, string sender, string domain) => stores.Database.RunAsync(async (session, ct) =>
        {
            await using var command = session.Connection.CreateCommand();
            command.CommandText = StoreSql.SelectTripletAndAwl;
            foreach (var (name, value) in new[] { ("@Client", client), ("@Sender", sender), ("@Recipient", "rcpt@example.com"), ("@SenderDomain", domain) })
            {
                var parameter = command.CreateParameter();
                parameter.ParameterName = name;
                parameter.Value = value;
                command.Parameters.Add(parameter);
            }
            await using var reader = await command.ExecuteReaderAsync(ct);
            var rows = 0;
            while (await reader.ReadAsync(ct))
                rows++;
            return rows;
        }, CancellationToken.None);

        // A first attempt, the spam case: nothing to map (a row of nulls costs a type lookup per column).
        Assert.Equal(0, await RowsAsync("203.0.113.0/24", "new@new.example", "new.example"));
        Assert.Equal(1, await RowsAsync("192.0.2.0/24", "a@known.example", "known.example"));
        Assert.Equal(1, await RowsAsync("198.51.100.0/24", "b@listed.example", "listed.example"));
    }

    private static Task<long> SynchronousAsync(MilterStores stores) =>
        stores.Database.RunAsync(async (session, ct) =>
        {
            await using var command = session.Connection.CreateCommand();
            command.CommandText = "PRAGMA synchronous";
            return Convert.ToInt64(await command.ExecuteScalarAsync(ct), System.Globalization.CultureInfo.InvariantCulture);
        }, CancellationToken.None);

    public override async Task DisposeAsync()
    {
        await base.DisposeAsync();
        _file.Dispose();
    }
}
