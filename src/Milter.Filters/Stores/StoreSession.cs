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
    /// Seconds a statement may take before it fails (on SQLite, how long it may wait for a busy file):
    /// the provider's default for this connection. Give it to every Dapper call as <c>commandTimeout</c>:
    /// without one, Dapper.AOT sets 0, which both providers take as "wait forever".
    /// </summary>
    public abstract int CommandTimeout { get; }

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

    /// <summary>A command for <paramref name="sql"/> (transaction control: BEGIN, COMMIT, PRAGMA); give it back with <see cref="Return"/>.</summary>
    public abstract DbCommand Rent(string sql);

    /// <summary>Gives back a command from <see cref="Rent"/> (kept prepared where the backend allows it).</summary>
    public abstract void Return(DbCommand command);

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
