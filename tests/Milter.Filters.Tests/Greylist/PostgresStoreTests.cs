using Milter.Filters.Greylist;
using Milter.Filters.Stores;
using Milter.Filters.Tests.Support;
using Milter.TestSupport;
using static Milter.Filters.Tests.Greylist.GreylistTestData;

namespace Milter.Filters.Tests.Greylist;

/// <summary>The tests that share one private PostgreSQL server; they run one after another.</summary>
[CollectionDefinition(Name)]
public sealed class PostgresCollection : ICollectionFixture<PrivatePostgres>
{
    public const string Name = "postgres";
}

/// <summary>The store suite on a real PostgreSQL, a fresh database per test.</summary>
[Collection(PostgresCollection.Name)]
public sealed class PostgresStoreTests(PrivatePostgres server) : StoreContract
{
    private readonly PostgresTestDatabase _database = new(server);

    protected override Task<string> CreateDatabaseAsync() => _database.CreateAsync(nameof(PostgresStoreTests));

    protected override Task<long> ScalarAsync(string sql) => _database.ScalarAsync(sql);

    protected override string CountTripletIndexesSql =>
        "SELECT COUNT(*) FROM pg_indexes WHERE schemaname = current_schema() AND tablename = 'greylist_triplet'";

    // The server crashes (pg_ctl -m immediate) and comes back when the handle is disposed.
    protected override Task<IAsyncDisposable> MakeUnavailableAsync() => _database.CrashAsync();

    [Fact]
    public async Task Another_hosts_first_attempt_is_seen_by_the_retry_here_at_once_as_no_key_filter_is_kept_on_a_shared_database()
    {
        var here = await OpenAsync();
        var there = await OpenAsync();
        await here.RefreshChangedAsync(default);
        var triplet = Mail("alice@example.org", "bob@example.com");
        await there.Greylist.Check.CheckAsync(triplet, Client, Clock.GetUtcNow(), Options, CancellationToken.None);
        await there.Greylist.WhenAttemptsWrittenAsync(default);
        Clock.Advance(TimeSpan.FromMinutes(3));

        var retry = await here.Greylist.Check.CheckAsync(triplet, Client, Clock.GetUtcNow(), Options, CancellationToken.None);

        Assert.Null(here.Greylist.Keys);
        Assert.Equal((GreylistAction.Pass, true), (retry.Action, retry.FirstPass));
    }

    [Fact]
    public async Task An_answered_pass_survives_a_server_crash_right_after_the_answer()
    {
        var stores = await OpenAsync();
        var triplet = Mail("alice@example.org", "bob@example.com");
        await stores.Greylist.Check.CheckAsync(triplet, Client, Clock.GetUtcNow(), Options, default);
        await stores.Greylist.WhenAttemptsWrittenAsync(default);
        Clock.Advance(TimeSpan.FromMinutes(3));
        Assert.True((await stores.Greylist.Check.CheckAsync(triplet, Client, Clock.GetUtcNow(), Options, default)).FirstPass);

        // Killed at once (pg_ctl -m immediate), within the WAL writer's 200 ms: a commit that did not wait for its WAL is lost.
        await (await MakeUnavailableAsync()).DisposeAsync();

        Assert.Equal(1, await ScalarAsync($"SELECT COUNT(*) FROM greylist_triplet WHERE state = {(int)TripletState.Passed}"));
        Assert.Equal(1, await ScalarAsync("SELECT COALESCE(SUM(passes), 0) FROM greylist_awl"));
    }

    [Fact]
    public async Task Statement_that_a_frozen_server_never_answers_fails_after_the_command_timeout()
    {
        await using var stores = await StoreFactory.OpenAsync(Database + ";Command Timeout=1", Clock, null, Tuning);
        await stores.Bans.ListAsync(Clock.GetUtcNow(), default); // leaves an open connection in the pool

        server.Pause();
        Task<IReadOnlyList<DynamicBan>> list;
        Task finished;
        try
        {
            list = stores.Bans.ListAsync(Clock.GetUtcNow(), default);
            finished = await Task.WhenAny(list, Task.Delay(TimeSpan.FromSeconds(30)));
        }
        finally
        {
            server.Resume();
        }

        Assert.Same(list, finished);
        await Assert.ThrowsAsync<StoreUnavailableException>(() => list);
    }
}
