using System.Data.Common;
using System.Globalization;
using Microsoft.Data.Sqlite;

namespace Milter.Filters.Stores;

/// <summary>
/// A SQLite file in WAL mode behind one connection. Writes in SQLite are serialised anyway, so the
/// process keeps one connection, hands it to one session at a time, and keeps the hot path's
/// statements prepared on it. Other processes (the admin commands) wait up to <c>busy_timeout</c>.
/// </summary>
internal sealed class SqliteDatabase : StoreDatabase
{
    private readonly SqliteConnection _connection;
    private readonly SemaphoreSlim _gate = new(1, 1);
    private readonly Dictionary<string, SqliteCommand> _prepared = new(StringComparer.Ordinal);
    private bool _disposed;

    private SqliteDatabase(SqliteConnection connection, string path) : base(SqlDialect.Sqlite, "sqlite:" + path)
    {
        _connection = connection;
    }

    /// <summary>Opens (creating the file and its folder) and sets WAL, full sync and the busy timeout.</summary>
    public static async Task<SqliteDatabase> OpenAsync(string path, StoreOptions options, CancellationToken cancellationToken)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(path);
        var full = Path.GetFullPath(path);
        try
        {
            Directory.CreateDirectory(Path.GetDirectoryName(full)!);
            var builder = new SqliteConnectionStringBuilder
            {
                DataSource = full,
                Mode = SqliteOpenMode.ReadWriteCreate,
                Pooling = false,
                DefaultTimeout = (int)Math.Ceiling(options.BusyTimeout.TotalSeconds),
            };
            var connection = new SqliteConnection(builder.ToString());
            await connection.OpenAsync(cancellationToken).ConfigureAwait(false);
            // WAL: readers never block the writer. synchronous=FULL: a committed pass survives a power cut, not only a crash.
            foreach (var pragma in new[]
                     {
                         "PRAGMA journal_mode = WAL",
                         "PRAGMA synchronous = FULL",
                         "PRAGMA busy_timeout = " + ((long)options.BusyTimeout.TotalMilliseconds).ToString(CultureInfo.InvariantCulture),
                     })
            {
                await using var command = connection.CreateCommand();
                command.CommandText = pragma;
                await command.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
            }
            return new SqliteDatabase(connection, full);
        }
        catch (Exception ex) when (ex is SqliteException or IOException or UnauthorizedAccessException)
        {
            throw new StoreUnavailableException($"sqlite:{full}: {ex.Message}", ex);
        }
    }

    public override async ValueTask<StoreSession> OpenSessionAsync(CancellationToken cancellationToken)
    {
        await _gate.WaitAsync(cancellationToken).ConfigureAwait(false);
        if (_disposed)
        {
            // A background reload that lost the race with shutdown; without this, the closed connection would be reopened.
            _gate.Release();
            throw new ObjectDisposedException(Description);
        }
        return new Session(this);
    }

    public override async ValueTask DisposeAsync()
    {
        await _gate.WaitAsync().ConfigureAwait(false);
        try
        {
            if (_disposed)
                return;
            _disposed = true;
            foreach (var command in _prepared.Values)
                await command.DisposeAsync().ConfigureAwait(false);
            _prepared.Clear();
            await _connection.DisposeAsync().ConfigureAwait(false);
        }
        finally
        {
            // Not disposed: late waiters must still get in to see _disposed.
            _gate.Release();
        }
    }

    private sealed class Session(SqliteDatabase database) : StoreSession(database._connection, database.Dialect)
    {
        // Called only while this session holds the gate, so the cache needs no lock of its own.
        public override DbCommand Rent(string sql)
        {
            if (!database._prepared.TryGetValue(sql, out var command))
            {
                command = database._connection.CreateCommand();
                command.CommandText = sql;
                database._prepared.Add(sql, command);
            }
            return command;
        }

        public override void Return(DbCommand command) { }

        protected override ValueTask ReleaseAsync()
        {
            database._gate.Release();
            return ValueTask.CompletedTask;
        }
    }
}
