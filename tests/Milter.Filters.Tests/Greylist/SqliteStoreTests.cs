using Microsoft.Data.Sqlite;
using Microsoft.Extensions.Logging.Testing;
using Microsoft.Extensions.Logging;
using Milter.Filters.Greylist;
using Milter.Filters.Logging;
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
    public async Task Written_rows_reach_the_file_itself_within_a_checkpoint_period_checkpointed_by_a_thread_of_its_own()
    {
        var stores = await OpenAsync();
        await stores.Greylist.Check.CheckAsync(Mail("alice@example.org", "bob@example.com"), Client, Clock.GetUtcNow(), Options, CancellationToken.None);
        await stores.Greylist.WhenAttemptsWrittenAsync(default);
        Assert.Equal(0L, await RowsInTheFileAloneAsync()); // committed to the write-ahead log only

        // The loop may not have asked for its first period yet when the clock first moves: move it at each look.
        var rows = await Eventually(async () =>
        {
            Clock.Advance(SqliteDatabase.CheckpointPeriod);
            var count = await RowsInTheFileAloneAsync();
            return count == 0 ? null : (object)count;
        });
        Assert.Equal(1L, rows);

        // A checkpoint waits for the disk (fsync); on a pool worker that wait would keep sessions' work queued behind it.
        var comm = SqliteDatabase.CheckpointThreadName[..15];
        Assert.Contains(Directory.GetDirectories("/proc/self/task"), task => File.ReadAllText(Path.Combine(task, "comm")).TrimEnd('\n') == comm);
    }

    [Fact]
    public async Task An_idle_store_arms_no_checkpoint_timer_until_the_next_write()
    {
        var clock = new TimerCountingClock(Clock);
        await using var stores = await StoreFactory.OpenAsync(Database, clock, null, Tuning);
        int Armed() => clock.TimersOn(SqliteDatabase.CheckpointThreadName);
        // Opening wrote the schema: one round of the checkpoint loop follows, then it sleeps.
        Assert.NotNull(await Eventually(() => Task.FromResult(Armed() > 0 ? "armed" : null)));
        Clock.Advance(SqliteDatabase.CheckpointPeriod);
        await Task.Delay(100);

        var idle = Armed();
        for (var i = 0; i < 10; i++)
        {
            Clock.Advance(SqliteDatabase.CheckpointPeriod);
            await Task.Delay(20);
        }
        Assert.Equal(idle, Armed());

        await stores.Database.WriteAsync((session, ct) => Task.FromResult(1), CancellationToken.None);
        Assert.NotNull(await Eventually(() => Task.FromResult(Armed() > idle ? "armed" : null)));
    }

    [Fact]
    public async Task Writes_run_one_after_another_on_a_thread_of_their_own_and_their_callers_go_on_elsewhere()
    {
        var stores = await OpenAsync();
        using var release = new ManualResetEventSlim();
        var firstOn = new TaskCompletionSource<Thread>(TaskCreationOptions.RunContinuationsAsynchronously);
        // A write that blocks its thread, as a commit waiting for the disk does.
        var first = stores.Database.WriteAsync((session, ct) =>
        {
            firstOn.SetResult(Thread.CurrentThread);
            release.Wait(ct);
            return Task.FromResult(1);
        }, CancellationToken.None);
        var second = stores.Database.WriteAsync((session, ct) => Task.FromResult(Thread.CurrentThread), CancellationToken.None);
        var continuedOn = first.ContinueWith(_ => Thread.CurrentThread, TaskContinuationOptions.ExecuteSynchronously);
        Thread writer;
        Task<long> read;
        try
        {
            writer = await firstOn.Task;
            // Reads go on meanwhile; the second write waits for the first.
            read = stores.Database.ReadAsync(async (session, ct) =>
            {
                await using var command = session.Connection.CreateCommand();
                command.CommandText = "SELECT 1";
                return (long)(await command.ExecuteScalarAsync(ct))!;
            }, CancellationToken.None);
            await read;
            Assert.False(second.IsCompleted);
        }
        finally
        {
            release.Set(); // also when an assertion fails: the store closes after its writes at the end of the test
        }

        Assert.Equal(SqliteDatabase.WriterThreadName, writer.Name);
        Assert.False(writer.IsThreadPoolThread);
        Assert.Equal(1L, await read);
        Assert.Same(writer, await second);
        Assert.NotSame(writer, await continuedOn); // the caller's continuation does not hold the writer up
    }

    [Fact]
    public async Task Writes_posted_before_the_store_closes_are_written_and_later_ones_refused()
    {
        var stores = await OpenAsync();
        using var release = new ManualResetEventSlim();
        var started = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var blocked = stores.Database.WriteAsync((session, ct) =>
        {
            started.SetResult();
            release.Wait(ct);
            return Task.FromResult(1);
        }, CancellationToken.None);
        await started.Task;
        var queued = stores.Database.WriteAsync(async (session, ct) =>
        {
            await using var command = session.Connection.CreateCommand();
            command.CommandText = "INSERT INTO greylist_triplet (client, sender, recipient, sender_domain, state, first_seen, last_seen, expires, deferrals) " +
                "VALUES ('net:192.0.2.0/24', 'a@example.org', 'b@example.com', 'example.org', 0, 1, 1, 9999999999, 1)";
            return await command.ExecuteNonQueryAsync(ct);
        }, CancellationToken.None);
        var closing = stores.DisposeAsync().AsTask();
        var closedAtOnce = closing.IsCompleted;
        release.Set();
        await closing;
        Assert.False(closedAtOnce);
        Assert.Equal(1, await blocked);
        Assert.Equal(1, await queued);
        Assert.Equal(1L, await ScalarAsync("SELECT COUNT(*) FROM greylist_triplet"));
        await Assert.ThrowsAsync<ObjectDisposedException>(() => stores.Database.WriteAsync((session, ct) => Task.FromResult(1), CancellationToken.None));
    }

    // The triplet rows of a copy of the database file without its write-ahead log: what a checkpoint has copied into the file.
    private async Task<long> RowsInTheFileAloneAsync()
    {
        var copy = Path.Combine(Path.GetDirectoryName(FilePath)!, "copy-" + Guid.NewGuid().ToString("N") + ".db");
        File.Copy(FilePath, copy);
        try
        {
            await using var connection = new SqliteConnection($"Data Source={copy};Pooling=False");
            await connection.OpenAsync();
            await using var command = connection.CreateCommand();
            command.CommandText = "SELECT COUNT(*) FROM sqlite_master WHERE name = 'greylist_triplet'";
            if ((long)(await command.ExecuteScalarAsync())! == 0)
                return 0;
            command.CommandText = "SELECT COUNT(*) FROM greylist_triplet";
            return (long)(await command.ExecuteScalarAsync())!;
        }
        finally
        {
            foreach (var file in Directory.GetFiles(Path.GetDirectoryName(copy)!, Path.GetFileName(copy) + "*"))
                File.Delete(file);
        }
    }

    [Fact]
    public async Task A_pass_answered_after_the_file_was_replaced_under_the_store_is_in_the_file_the_path_names()
    {
        var stores = await OpenAsync();
        var triplet = Mail("alice@example.org", "bob@example.com");
        Assert.Equal(GreylistAction.Defer, (await stores.Greylist.Check.CheckAsync(triplet, Client, Clock.GetUtcNow(), Options, CancellationToken.None)).Action);
        await stores.Greylist.WhenAttemptsWrittenAsync(default);

        // The postmaster puts a copy back the way mv and rsync do: another file renamed over the path.
        var copy = FilePath + ".restored";
        await using (var connection = new SqliteConnection($"Data Source={FilePath};Pooling=False"))
        {
            await connection.OpenAsync();
            await using var command = connection.CreateCommand();
            command.CommandText = $"VACUUM INTO '{copy}'";
            await command.ExecuteNonQueryAsync();
        }
        File.Move(copy, FilePath, overwrite: true);

        Clock.Advance(TimeSpan.FromMinutes(2));
        var retry = await stores.Greylist.Check.CheckAsync(triplet, Client, Clock.GetUtcNow(), Options, CancellationToken.None);
        Assert.True(retry.FirstPass);
        await stores.DisposeAsync();

        // Answered as a pass, so on disk: in the file a restart (or the admin commands) will open.
        Assert.Equal(1L, await ScalarAsync($"SELECT COUNT(*) FROM greylist_triplet WHERE state = {(int)TripletState.Passed}"));
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
        var writes = new OperationCounter(writes: true);
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

    /// <summary>Counts the store's units of work of one kind: writes, or reads.</summary>
    private sealed class OperationCounter(bool writes) : IStoreObserver
    {
        private int _count;

        public int Count => Volatile.Read(ref _count);

        public void OnOperation(bool write, TimeSpan elapsed, bool failed)
        {
            if (write == writes)
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

    // ---- the key filter -------------------------------------------------------------------------

    private Task<GreylistResult> CheckAsync(MilterStores stores, Triplet triplet) =>
        stores.Greylist.Check.CheckAsync(triplet, Client, Clock.GetUtcNow(), Options, CancellationToken.None);

    private const string InsertTripletSql =
        "INSERT INTO greylist_triplet (client, sender, recipient, sender_domain, state, first_seen, last_seen, expires, deferrals) ";

    [Fact]
    public async Task Once_the_change_poll_filled_the_key_filter_a_first_attempt_is_answered_without_a_read_and_its_retry_reads_its_row()
    {
        var stores = await OpenAsync();
        var reads = new OperationCounter(writes: false);
        stores.Observer = reads;
        var triplet = Mail("alice@example.org", "bob@example.com");

        // Before the first poll there is no filter: a check reads (the first also loads the allow list).
        await CheckAsync(stores, Mail("early@example.org", "bob@example.com"));
        var readsBefore = reads.Count;
        await CheckAsync(stores, Mail("second@example.org", "bob@example.com"));
        var readsBeforePoll = reads.Count - readsBefore;
        await stores.RefreshChangedAsync(default);
        var readsAfterPoll = reads.Count;
        var first = await CheckAsync(stores, triplet);
        var readsByFirstAttempt = reads.Count - readsAfterPoll;
        await stores.Greylist.WhenAttemptsWrittenAsync(default);
        Clock.Advance(TimeSpan.FromMinutes(2));
        // Its key went into the filter before its row was written: no poll needed for the retry to find it.
        var retry = await CheckAsync(stores, triplet);

        Assert.Equal(1, readsBeforePoll);
        Assert.NotNull(stores.Greylist.Keys);
        Assert.True(stores.Greylist.Keys!.Ready);
        Assert.Equal((GreylistAction.Defer, GreylistRules.New), (first.Action, first.Rule));
        Assert.Equal(0, readsByFirstAttempt);
        Assert.Equal(1, stores.Greylist.SkippedReads);
        Assert.Equal((GreylistAction.Pass, GreylistRules.Passed, true), (retry.Action, retry.Rule, retry.FirstPass));
    }

    [Fact]
    public async Task A_triplet_another_process_recorded_costs_at_most_one_more_deferral_before_the_next_change_poll_and_none_after_it()
    {
        var daemon = await OpenAsync();
        var other = await OpenAsync(); // simulate --record, say: a process without the change poll
        await daemon.RefreshChangedAsync(default);
        var missed = Mail("alice@example.org", "bob@example.com");
        var polled = Mail("carol@example.org", "bob@example.com");
        await CheckAsync(other, missed);
        await CheckAsync(other, polled);
        await other.Greylist.WhenAttemptsWrittenAsync(default);
        Clock.Advance(TimeSpan.FromMinutes(3));

        // Not polled yet: answered as new, and its write keeps the row the other process wrote.
        var beforePoll = await CheckAsync(daemon, missed);
        await daemon.Greylist.WhenAttemptsWrittenAsync(default);
        var nextAttempt = await CheckAsync(daemon, missed);
        await daemon.RefreshChangedAsync(default);
        var afterPoll = await CheckAsync(daemon, polled);

        Assert.Equal((GreylistAction.Defer, GreylistRules.New), (beforePoll.Action, beforePoll.Rule));
        Assert.Equal((GreylistAction.Pass, true), (nextAttempt.Action, nextAttempt.FirstPass));
        Assert.Equal((GreylistAction.Pass, true), (afterPoll.Action, afterPoll.FirstPass));
        var rows = await daemon.Greylist.Admin.ListTripletsAsync(new GreylistQuery(), Clock.GetUtcNow(), default);
        Assert.All(rows, row => Assert.Equal(Start, row.FirstSeen));
    }

    [Fact]
    public async Task A_key_filter_past_its_capacity_is_replaced_by_a_bigger_one_that_knows_every_key()
    {
        var stores = await OpenAsync();
        await stores.RefreshChangedAsync(default);
        var firstCapacity = stores.Greylist.Keys!.Capacity;
        // More rows than the first filter holds, written by another program.
        await _file.ScalarAsync("WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 70000) " + InsertTripletSql +
            "SELECT '" + Client + "/32', 'sender' || i || '@bulk.example', 'bob@example.com', 'bulk.example', 0, 1, 1, 9999999999, 1 FROM n");
        await stores.RefreshChangedAsync(default);
        var keys = stores.Greylist.Keys!;

        var known = Enumerable.Range(1, 70000).Where(i => i % 97 == 0)
            .Select(i => new Triplet(Client + "/32", $"sender{i}@bulk.example", "bob@example.com")).ToList();
        var unknown = Enumerable.Range(1, 2000).Select(i => new Triplet(Client + "/32", $"never{i}@bulk.example", "bob@example.com")).ToList();

        Assert.Equal(65536, firstCapacity);
        Assert.Equal(140000, keys.Capacity);
        Assert.All(known, t => Assert.False(keys.SurelyAbsent(GreylistKeyFilter.HashesOf(t), triplet: true, autoWhitelist: false), $"{t} is in the table"));
        // About 1 % of keys never written look present; far fewer than 5 % in any run.
        Assert.InRange(unknown.Count(t => !keys.SurelyAbsent(GreylistKeyFilter.HashesOf(t), triplet: true, autoWhitelist: false)), 0, 100);
    }

    [Fact]
    public async Task A_first_filling_of_many_keys_collects_its_garbage_chunk_by_chunk_gives_the_memory_back_once_and_is_logged_ready()
    {
        var rows = GreylistKeyFilter.CompactAfterRows;
        await OpenAsync(); // the schema
        await _file.ScalarAsync($"WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < {rows}) " + InsertTripletSql +
            "SELECT 'net:192.0.2.0/24', 'bulk' || i || '@example.org', 'bob@example.com', 'example.org', 0, 1, 1, 9999999999, 1 FROM n");
        var collector = new FakeLogCollector();
        using var loggers = LoggerFactory.Create(builder => builder.AddProvider(new FakeLoggerProvider(collector)));
        var stores = await OpenAsync(loggers: loggers);

        var fullCollections = GC.CollectionCount(GC.MaxGeneration);
        var youngCollections = GC.CollectionCount(0);
        await stores.RefreshChangedAsync(default);
        var collectedDuringFill = GC.CollectionCount(GC.MaxGeneration) - fullCollections;
        var youngDuringFill = GC.CollectionCount(0) - youngCollections;
        await _file.ScalarAsync(InsertTripletSql + "VALUES ('net:192.0.2.0/24', 'late@example.org', 'bob@example.com', 'example.org', 0, 1, 1, 9999999999, 1)");
        await stores.RefreshChangedAsync(default);

        var ready = collector.GetSnapshot().Where(r => r.Id.Id is FilterEventId.KeyFilterReady or FilterEventId.KeyFilterReadyCompacted).ToList();
        var line = Assert.Single(ready); // the second poll only caught up: no second line, no second collection
        Assert.Equal(FilterEventId.KeyFilterReadyCompacted, line.Id.Id);
        Assert.True(stores.Greylist.Keys!.Ready);
        Assert.StartsWith($"Greylist key filter ready: {rows} keys read from the database in ", line.Message);
        Assert.Contains("the memory the reading used given back to the system in", line.Message);
        Assert.True(collectedDuringFill >= 1, "no full collection ran during the first filling");
        // One after each of the 11 reads (10 of 5,000 rows, then the one that finds no more), and the full one.
        Assert.True(youngDuringFill >= 12, $"{youngDuringFill} collections of the youngest generation during the first filling, not one a chunk");
    }

    [Fact]
    public async Task A_first_filling_of_few_keys_is_logged_ready_without_a_collection()
    {
        var collector = new FakeLogCollector();
        using var loggers = LoggerFactory.Create(builder => builder.AddProvider(new FakeLoggerProvider(collector)));
        var stores = await OpenAsync(loggers: loggers);
        await _file.ScalarAsync("WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 50) " + InsertTripletSql +
            "SELECT 'net:192.0.2.0/24', 'few' || i || '@example.org', 'bob@example.com', 'example.org', 0, 1, 1, 9999999999, 1 FROM n");

        await stores.RefreshChangedAsync(default);

        var line = Assert.Single(collector.GetSnapshot(), r => r.Id.Id is FilterEventId.KeyFilterReady or FilterEventId.KeyFilterReadyCompacted);
        Assert.Equal(FilterEventId.KeyFilterReady, line.Id.Id);
        Assert.Equal("Greylist key filter ready: 50 keys read from the database in 0.0 s", line.Message);
    }

    [Fact]
    public async Task Rows_written_after_the_table_was_emptied_are_still_caught_up_though_their_rowids_start_again_lower()
    {
        var stores = await OpenAsync();
        var triplet = Mail("alice@example.org", "bob@example.com");
        await _file.ScalarAsync("WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 50) " + InsertTripletSql +
            "SELECT 'net:192.0.2.0/24', 'old' || i || '@example.org', 'bob@example.com', 'example.org', 0, 1, 1, 9999999999, 1 FROM n");
        await stores.RefreshChangedAsync(default);
        await _file.ScalarAsync("DELETE FROM greylist_triplet");
        var firstSeen = Clock.GetUtcNow().AddMinutes(-10).ToUnixTimeSeconds();
        await _file.ScalarAsync(InsertTripletSql + $"VALUES ('{triplet.Client}', '{triplet.Sender}', '{triplet.Recipient}', 'example.org', 0, " +
            $"{firstSeen}, {firstSeen}, 9999999999, 1)");
        await stores.RefreshChangedAsync(default);

        var check = await CheckAsync(stores, triplet);

        Assert.Equal(1L, await _file.ScalarAsync("SELECT MAX(rowid) FROM greylist_triplet"));
        Assert.Equal((GreylistAction.Pass, true), (check.Action, check.FirstPass));
        Assert.Equal(0, stores.Greylist.SkippedReads);
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
