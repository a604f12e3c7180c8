using Milter.Filters.Tests.Greylist;
using Milter.Filters.Tests.Support;
using Milter.TestSupport;

namespace Milter.Filters.Tests.Stats;

/// <summary>The tally suite on a SQLite file in a temp folder of its own.</summary>
public sealed class SqliteTallyTests : TallyContract
{
    private readonly SqliteTestFile _file = new("tally");

    protected override Task<string> CreateDatabaseAsync() => Task.FromResult(_file.Setting);

    protected override Task<long> ScalarAsync(string sql) => _file.ScalarAsync(sql);

    protected override Task<IAsyncDisposable> MakeUnavailableAsync() => _file.LockAsync();

    public override async Task DisposeAsync()
    {
        await base.DisposeAsync();
        _file.Dispose();
    }
}

/// <summary>The tally suite on a real PostgreSQL, a fresh database per test.</summary>
[Collection(PostgresCollection.Name)]
public sealed class PostgresTallyTests(PrivatePostgres server) : TallyContract
{
    private readonly PostgresTestDatabase _database = new(server);

    protected override Task<string> CreateDatabaseAsync() => _database.CreateAsync(nameof(PostgresTallyTests));

    protected override Task<long> ScalarAsync(string sql) => _database.ScalarAsync(sql);

    protected override Task<IAsyncDisposable> MakeUnavailableAsync() => _database.CrashAsync();
}
