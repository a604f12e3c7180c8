using System.Data.Common;
using System.Net.Sockets;
using Dapper;

namespace Milter.Filters.Stores;

/// <summary>
/// A database behind the stores: hands out sessions, runs the schema migrations, and turns
/// provider failures into <see cref="StoreUnavailableException"/>.
/// </summary>
internal abstract class StoreDatabase : IAsyncDisposable
{
    protected StoreDatabase(SqlDialect dialect, string description)
    {
        Dialect = dialect;
        Description = description;
    }

    public SqlDialect Dialect { get; }

    /// <summary>For messages: <c>sqlite:/var/lib/milterhost/milterhost.db</c>, <c>postgres:Host=db;Database=mh</c> (no password).</summary>
    public string Description { get; }

    /// <summary>The schema version this build creates and understands.</summary>
    public static int LatestVersion => StoreSql.Migrations.Count;

    /// <summary>The clock operations are timed with (set by <see cref="StoreFactory"/>).</summary>
    public TimeProvider Time { get; set; } = TimeProvider.System;

    /// <summary>Told of every operation; null: nobody listens.</summary>
    public IStoreObserver? Observer { get; set; }

    public abstract ValueTask<StoreSession> OpenSessionAsync(CancellationToken cancellationToken);

    /// <summary>
    /// A session for reads only, outside any write transaction: where the backend can, on a connection
    /// of its own, so that a read never waits behind a write (SQLite in WAL mode). By default the same as
    /// <see cref="OpenSessionAsync"/>.
    /// </summary>
    public virtual ValueTask<StoreSession> OpenReadSessionAsync(CancellationToken cancellationToken) => OpenSessionAsync(cancellationToken);

    /// <summary>Runs <paramref name="work"/> on a session; provider failures become <see cref="StoreUnavailableException"/>.</summary>
    public Task<T> RunAsync<T>(Func<StoreSession, CancellationToken, Task<T>> work, CancellationToken cancellationToken) =>
        RunCoreAsync(work, write: false, cancellationToken);

    /// <summary>Runs <paramref name="work"/>, which only reads, on a session from <see cref="OpenReadSessionAsync"/>.</summary>
    public Task<T> ReadAsync<T>(Func<StoreSession, CancellationToken, Task<T>> work, CancellationToken cancellationToken) =>
        RunCoreAsync(work, write: false, cancellationToken, readOnly: true);

    /// <summary>
    /// Runs <paramref name="work"/> inside one write transaction that commits before this returns.
    /// With <paramref name="mayRelax"/> the commit need not wait for the disk unless the work clears
    /// <see cref="StoreSession.RelaxedCommit"/>; where durability is fixed at the begin (SQLite) the
    /// work is then rolled back and run once more, durably, so it must have no effect outside the database.
    /// </summary>
    public Task<T> WriteAsync<T>(Func<StoreSession, CancellationToken, Task<T>> work, CancellationToken cancellationToken, bool mayRelax = false) =>
        RunCoreAsync(async (session, ct) =>
        {
            var relaxed = mayRelax;
            while (true)
            {
                await session.BeginWriteAsync(relaxed, ct).ConfigureAwait(false);
                var result = await work(session, ct).ConfigureAwait(false);
                if (relaxed && !session.RelaxedCommit && session.RelaxedFromTheStart)
                {
                    await session.RollbackAsync(ct).ConfigureAwait(false);
                    relaxed = false;
                    continue;
                }
                await session.CommitAsync(ct).ConfigureAwait(false);
                return result;
            }
        }, write: true, cancellationToken);

    /// <summary>How long one transaction of <see cref="WriteInChunksAsync{T}"/> may hold the writer.</summary>
    public static TimeSpan MaxChunkHold { get; } = TimeSpan.FromMilliseconds(2);


    /// <summary>
    /// Writes <paramref name="items"/> for periodic work (a tally, lifetime extensions) in relaxed
    /// transactions of a few rows each (<see cref="ChunkSize"/>: from 16 rows, sized by how long each
    /// holds the writer against <see cref="MaxChunkHold"/>); each
    /// queues for the writer anew, so that a session's write (a new pass) waits behind one short
    /// transaction at most, never behind the whole. <paramref name="written"/> hears how many items are committed
    /// after each transaction, so that a caller can tell what a failure left unwritten.
    /// </summary>
    /// <param name="size">Where the chunk size starts and is kept for the next call (a writer that runs often); null: a new one.</param>
    public async Task WriteInChunksAsync<T>(IReadOnlyList<T> items, Func<StoreSession, T, CancellationToken, Task> write, Action<int>? written,
        CancellationToken cancellationToken, ChunkSize? size = null)
    {
        ArgumentNullException.ThrowIfNull(items);
        ArgumentNullException.ThrowIfNull(write);
        size ??= new ChunkSize();
        var done = 0;
        while (done < items.Count)
        {
            var from = done;
            var take = Math.Min(size.Rows, items.Count - done);
            long started = 0;
            await WriteAsync(async (session, ct) =>
            {
                started = Time.GetTimestamp();
                for (var i = from; i < from + take; i++)
                    await write(session, items[i], ct).ConfigureAwait(false);
                return take;
            }, cancellationToken, mayRelax: true).ConfigureAwait(false);
            var held = Time.GetElapsedTime(started);
            done += take;
            written?.Invoke(done);
            size.Adjust(held);
        }
    }

    private async Task<T> RunCoreAsync<T>(Func<StoreSession, CancellationToken, Task<T>> work, bool write, CancellationToken cancellationToken,
        bool readOnly = false)
    {
        var observer = Observer;
        var started = observer is null ? 0 : Time.GetTimestamp();
        var failed = false;
        try
        {
            if (write)
                return await RunWriteAsync(() => OpenAndRunAsync(work, readOnly: false, cancellationToken)).ConfigureAwait(false);
            // A read's calls block too (a page from the disk). Run inline on a socket's event thread
            // (DOTNET_SYSTEM_NET_SOCKETS_INLINE_COMPLETIONS), they would hold up every other
            // connection's I/O: move to the thread pool first.
            if (!Thread.CurrentThread.IsThreadPoolThread)
                await Task.Yield();
            return await OpenAndRunAsync(work, readOnly, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception ex) when (IsStoreFailure(ex))
        {
            failed = true;
            throw new StoreUnavailableException($"{Description}: {ex.Message}", ex);
        }
        catch (StoreUnavailableException)
        {
            failed = true;
            throw;
        }
        finally
        {
            observer?.OnOperation(write, Time.GetElapsedTime(started), failed);
        }
    }

    /// <summary>
    /// Where a write runs. A write may wait for another process's lock (SQLite's busy timeout) and for
    /// the disk, and its caller (a session) must get its task back at once to watch its connection
    /// meanwhile: by default it moves to the thread pool, even from the pool. A backend whose calls
    /// block puts its writes on a thread of its own (<see cref="StoreThread"/>).
    /// </summary>
    protected virtual async Task<T> RunWriteAsync<T>(Func<Task<T>> write)
    {
        ArgumentNullException.ThrowIfNull(write);
        await Task.Yield();
        return await write().ConfigureAwait(false);
    }

    private async Task<T> OpenAndRunAsync<T>(Func<StoreSession, CancellationToken, Task<T>> work, bool readOnly, CancellationToken cancellationToken)
    {
        var session = readOnly
            ? await OpenReadSessionAsync(cancellationToken).ConfigureAwait(false)
            : await OpenSessionAsync(cancellationToken).ConfigureAwait(false);
        await using (session.ConfigureAwait(false))
            return await work(session, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>
    /// Brings the schema to <see cref="LatestVersion"/>, each step in the same transaction as its
    /// version row; a schema newer than this build is refused.
    /// </summary>
    public Task<int> MigrateAsync(DateTimeOffset now, CancellationToken cancellationToken) =>
        RunAsync((session, ct) => MigrateOnAsync(session, now, ct), cancellationToken);

    /// <summary><see cref="MigrateAsync"/> on a session the caller already holds.</summary>
    protected async Task<int> MigrateOnAsync(StoreSession session, DateTimeOffset now, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(session);
        await session.BeginWriteAsync(ct).ConfigureAwait(false);
        var connection = session.Connection;
        // The lock and the DDL below are statements without parameters whose text is not a constant
        // here; Dapper.AOT binds such a call without a parameter object (one carrying only the token
        // makes it generate code that does not compile), so they run without cancellation: each is short.
        if (Dialect.MigrationLock is { } lockSql)
            await connection.ExecuteAsync(lockSql, commandTimeout: session.CommandTimeout).ConfigureAwait(false);
        await connection.ExecuteAsync(StoreSql.CreateVersionTable, new CancelArgs(ct), commandTimeout: session.CommandTimeout).ConfigureAwait(false);
        var current = await connection.ExecuteScalarAsync<long>(StoreSql.SelectVersion, new CancelArgs(ct), commandTimeout: session.CommandTimeout).ConfigureAwait(false);
        if (current > LatestVersion)
            throw new StoreUnavailableException(
                $"{Description}: schema version {current} is newer than this milterhost understands ({LatestVersion}); upgrade milterhost");
        for (var version = (int)current + 1; version <= LatestVersion; version++)
        {
            foreach (var statement in StoreSql.Migrations[version - 1])
                await connection.ExecuteAsync(statement, commandTimeout: session.CommandTimeout).ConfigureAwait(false);
            await connection.ExecuteAsync(StoreSql.InsertVersion, new VersionArgs(version, now.ToUnixTimeSeconds(), ct), commandTimeout: session.CommandTimeout).ConfigureAwait(false);
        }
        await session.CommitAsync(ct).ConfigureAwait(false);
        return LatestVersion;
    }

    public abstract ValueTask DisposeAsync();

    private static bool IsStoreFailure(Exception ex) =>
        ex is DbException or TimeoutException or IOException or SocketException or UnauthorizedAccessException;
}

/// <summary>
/// Rows per transaction of <see cref="StoreDatabase.WriteInChunksAsync{T}"/>: starts at 16, doubles (up
/// to 512) while a transaction holds the writer for less than half of <see cref="StoreDatabase.MaxChunkHold"/>,
/// halves when it holds it longer, never below 16: 16 rows take well under 2 ms even on a large file,
/// so a longer hold is the thread being preempted, and smaller transactions would only write the
/// same upper pages of the index into the log again for each few rows (+15% CPU per new triplet
/// in an A/B when it went down to 1).
/// </summary>
internal sealed class ChunkSize
{
    private const int Min = 16;
    private const int Max = 512;

    public int Rows { get; private set; } = Min;

    public void Adjust(TimeSpan held)
    {
        if (held > StoreDatabase.MaxChunkHold)
            Rows = Math.Max(Min, Rows / 2);
        else if (held < StoreDatabase.MaxChunkHold / 2)
            Rows = Math.Min(Max, Rows * 2);
    }
}
