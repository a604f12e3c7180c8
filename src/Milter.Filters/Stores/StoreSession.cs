using System.Data.Common;
using System.Globalization;

namespace Milter.Filters.Stores;

/// <summary>
/// One connection held for one unit of work, with at most one write transaction. Disposing it rolls
/// back whatever was not committed and gives the connection back.
/// </summary>
internal abstract class StoreSession : IAsyncDisposable
{
    private readonly SqlDialect _dialect;
    private bool _inTransaction;

    protected StoreSession(DbConnection connection, SqlDialect dialect)
    {
        Connection = connection;
        _dialect = dialect;
    }

    public DbConnection Connection { get; }

    /// <summary>The statements and behaviours that differ between the backends.</summary>
    public SqlDialect Dialect => _dialect;

    /// <summary>
    /// In a write begun with <c>mayRelax</c> (<see cref="StoreDatabase.WriteAsync{T}"/>): true until the
    /// work sets it false because what it wrote must survive a power cut. While true, the commit does
    /// not wait for the disk: the write survives a crash of this process (it has reached the kernel)
    /// but a power cut or a crash of the machine may lose it, at no cost but a repeated delay (a first
    /// attempt or an early retry recorded, a lifetime extended, expired rows swept). A pass, an
    /// auto-whitelist count, a ban, a migration: always durable.
    /// </summary>
    public bool RelaxedCommit { get; set; }

    /// <summary>
    /// True when the transaction under way cannot be made durable at its end (SQLite fixes the
    /// connection's <c>synchronous</c> level before <c>BEGIN</c>): work that wants durability after all
    /// must be rolled back and run again from a durable begin.
    /// </summary>
    public virtual bool RelaxedFromTheStart => false;

    /// <summary>Starts a durable write transaction (<c>BEGIN IMMEDIATE</c> on SQLite).</summary>
    public Task BeginWriteAsync(CancellationToken cancellationToken) => BeginWriteAsync(relaxed: false, cancellationToken);

    /// <summary>Starts the write transaction; <paramref name="relaxed"/>: see <see cref="RelaxedCommit"/>.</summary>
    public async Task BeginWriteAsync(bool relaxed, CancellationToken cancellationToken)
    {
        await BeforeBeginAsync(relaxed, cancellationToken).ConfigureAwait(false);
        RelaxedCommit = relaxed;
        await ExecuteRawAsync(_dialect.BeginWrite, cancellationToken).ConfigureAwait(false);
        _inTransaction = true;
    }

    /// <summary>Where the backend sets durability on the connection rather than the transaction (SQLite's <c>synchronous</c>).</summary>
    protected virtual Task BeforeBeginAsync(bool relaxed, CancellationToken cancellationToken) => Task.CompletedTask;

    public async Task CommitAsync(CancellationToken cancellationToken)
    {
        await BeforeCommitAsync(RelaxedCommit, cancellationToken).ConfigureAwait(false);
        await ExecuteRawAsync(SqlDialect.Commit, cancellationToken).ConfigureAwait(false);
        _inTransaction = false;
    }

    /// <summary>Where the backend sets durability on the transaction itself, at its end (PostgreSQL's <c>synchronous_commit</c>).</summary>
    protected virtual Task BeforeCommitAsync(bool relaxed, CancellationToken cancellationToken) => Task.CompletedTask;

    public async Task RollbackAsync(CancellationToken cancellationToken)
    {
        _inTransaction = false;
        await ExecuteRawAsync(SqlDialect.Rollback, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>A command for <paramref name="sql"/>, parameters set with <see cref="Bind"/>; give it back with <see cref="Return"/>.</summary>
    public abstract DbCommand Rent(string sql);

    /// <summary>Gives back a command from <see cref="Rent"/> (kept prepared where the backend allows it).</summary>
    public abstract void Return(DbCommand command);

    /// <summary>Sets a parameter, reusing the one a cached command already has.</summary>
    public static void Bind(DbCommand command, string name, object? value)
    {
        var index = command.Parameters.IndexOf(name);
        DbParameter parameter;
        if (index >= 0)
        {
            parameter = command.Parameters[index];
        }
        else
        {
            parameter = command.CreateParameter();
            parameter.ParameterName = name;
            command.Parameters.Add(parameter);
        }
        parameter.Value = value ?? DBNull.Value;
    }

    /// <summary>Runs <paramref name="sql"/> through <see cref="Rent"/> (prepared where the backend keeps it); returns the rows affected.</summary>
    public async Task<int> ExecuteAsync(string sql, CancellationToken cancellationToken, params (string Name, object? Value)[] parameters)
    {
        var command = RentBound(sql, parameters);
        try
        {
            return await command.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            Return(command);
        }
    }

    /// <summary>
    /// Runs a query through <see cref="Rent"/> and maps each row with <paramref name="map"/>: rows are
    /// read by position, so the SQL's column order is the mapping (no reflection, nothing emitted).
    /// </summary>
    public Task<List<T>> QueryAsync<T>(string sql, Func<DbDataReader, T> map, CancellationToken cancellationToken,
        params (string Name, object? Value)[] parameters) =>
        QueryAsync(sql, parameters, map, keep: null, int.MaxValue, cancellationToken);

    /// <summary>
    /// <see cref="QueryAsync{T}(string, Func{DbDataReader, T}, CancellationToken, ValueTuple{string, object}[])"/>
    /// keeping only the rows <paramref name="keep"/> accepts, and at most <paramref name="limit"/> of them (the
    /// rest of the result is not read).
    /// </summary>
    public async Task<List<T>> QueryAsync<T>(string sql, IReadOnlyList<(string Name, object? Value)> parameters, Func<DbDataReader, T> map,
        Func<T, bool>? keep, int limit, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(map);
        var command = RentBound(sql, parameters);
        try
        {
            var rows = new List<T>();
            var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
            await using (reader.ConfigureAwait(false))
            {
                while (rows.Count < limit && await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
                {
                    var row = map(reader);
                    if (keep is null || keep(row))
                        rows.Add(row);
                }
            }
            return rows;
        }
        finally
        {
            Return(command);
        }
    }

    /// <summary>Runs a query whose first column of its first row is a whole number (a count, a flag); 0 when it returns no row or NULL.</summary>
    public async Task<long> ScalarAsync(string sql, CancellationToken cancellationToken, params (string Name, object? Value)[] parameters)
    {
        var command = RentBound(sql, parameters);
        try
        {
            var result = await command.ExecuteScalarAsync(cancellationToken).ConfigureAwait(false);
            return result is null or DBNull ? 0 : Convert.ToInt64(result, CultureInfo.InvariantCulture);
        }
        finally
        {
            Return(command);
        }
    }

    /// <summary>A command from <see cref="Rent"/> with <paramref name="parameters"/> bound; give it back with <see cref="Return"/>.</summary>
    private DbCommand RentBound(string sql, IReadOnlyList<(string Name, object? Value)> parameters)
    {
        ArgumentNullException.ThrowIfNull(parameters);
        var command = Rent(sql);
        foreach (var (name, value) in parameters)
            Bind(command, name, value);
        return command;
    }

    /// <summary>
    /// A whole-number column, whatever type the backend gives it (SQLite INTEGER, PostgreSQL integer,
    /// bigint or numeric); NULL is 0.
    /// </summary>
    public static long Int64(DbDataReader reader, int ordinal)
    {
        ArgumentNullException.ThrowIfNull(reader);
        return reader.IsDBNull(ordinal) ? 0 : Convert.ToInt64(reader.GetValue(ordinal), CultureInfo.InvariantCulture);
    }

    /// <summary>A whole-number column that may be NULL.</summary>
    public static long? NullableInt64(DbDataReader reader, int ordinal)
    {
        ArgumentNullException.ThrowIfNull(reader);
        return reader.IsDBNull(ordinal) ? null : Convert.ToInt64(reader.GetValue(ordinal), CultureInfo.InvariantCulture);
    }

    /// <summary>A text column; NULL is the empty string.</summary>
    public static string Text(DbDataReader reader, int ordinal)
    {
        ArgumentNullException.ThrowIfNull(reader);
        return reader.IsDBNull(ordinal) ? "" : reader.GetString(ordinal);
    }

    public async ValueTask DisposeAsync()
    {
        try
        {
            if (_inTransaction)
            {
                _inTransaction = false;
                // The transaction failed or was cancelled: undo it; a broken connection undoes it anyway.
                try { await ExecuteRawAsync(SqlDialect.Rollback, CancellationToken.None).ConfigureAwait(false); }
                catch (DbException) { }
                catch (InvalidOperationException) { }
            }
        }
        finally
        {
            await ReleaseAsync().ConfigureAwait(false);
        }
    }

    protected abstract ValueTask ReleaseAsync();

    /// <summary>Runs one statement that returns nothing, through <see cref="Rent"/>.</summary>
    protected async Task ExecuteRawAsync(string sql, CancellationToken cancellationToken)
    {
        var command = Rent(sql);
        try
        {
            await command.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            Return(command);
        }
    }
}
