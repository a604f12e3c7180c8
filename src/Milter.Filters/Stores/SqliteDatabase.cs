using System.Collections.Concurrent;
using System.Data.Common;
using System.Globalization;
using Microsoft.Data.Sqlite;
using Microsoft.Extensions.Logging;

namespace Milter.Filters.Stores;

/// <summary>
/// A SQLite file in WAL mode behind one write connection. Writes in SQLite are serialised anyway, so
/// the process keeps one connection for them, hands it to one session at a time, and keeps the hot
/// path's statements prepared on it. Reads outside a write (<see cref="OpenReadSessionAsync"/>) use
/// a few more connections, opened as needed and kept: in WAL mode a reader sees the last commit and
/// never waits for the writer, a sweep or a checkpoint. Other processes (the admin commands) wait up
/// to <c>busy_timeout</c>. The write-ahead log is copied back into the file (checkpointed) by a
/// connection of its own every <see cref="CheckpointPeriod"/>, not by the commit that happens to fill
/// it: SQLite's automatic checkpoint ran inside a commit on the write connection, copying and syncing
/// thousands of pages while every session with a pass to write waited for that connection. Writes and
/// checkpoints each run on a thread of their own (<see cref="StoreThread"/>): both wait for the disk.
/// </summary>
internal sealed class SqliteDatabase : StoreDatabase
{
    // Read connections at most; more readers at once wait for one. Twice the cores: a reader whose
    // thread is preempted, or waits for a page from the disk, keeps its connection meanwhile.
    private static readonly int MaxReaders = Math.Clamp(2 * Environment.ProcessorCount, 4, 16);

    // Page caches, per connection (negative: KiB). The writer's survives its own commits and holds the
    // upper levels of the triplet index for the random inserts of new triplets; a reader's is emptied
    // by every commit of the writer (WAL), so a large one would only hold memory.
    private const string WriterCache = "PRAGMA cache_size = -4096";
    private const string ReaderCache = "PRAGMA cache_size = -512";

    /// <summary>How often the write-ahead log is checkpointed, when something was written since.</summary>
    public static TimeSpan CheckpointPeriod { get; } = TimeSpan.FromMilliseconds(500);

    /// <summary>The name of the thread that checkpoints.</summary>
    public const string CheckpointThreadName = "sqlite checkpoint";

    /// <summary>The name of the thread every write runs on.</summary>
    public const string WriterThreadName = "sqlite writer";

    private readonly SemaphoreSlim _gate = new(1, 1);
    private readonly SemaphoreSlim _readGate = new(MaxReaders, MaxReaders);
    private readonly ConcurrentBag<Reader> _readers = [];
    private readonly string _path;
    private readonly StoreOptions _options;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private PreparingSqliteConnection _connection;
    // The file the write connection has open: a file renamed over the path is another one. The path
    // as stat takes it, made once: it is looked at for every write batch and every new reader.
    private FileIdentity? _identity;
    private byte[]? _pathBytes;
    private volatile bool _replacing;
    private volatile bool _unmigrated;
    private volatile bool _disposed;
    // Moves when the file is replaced: read connections opened before are closed instead of reused.
    private int _fileGeneration;
    // The connection's current PRAGMA synchronous: FULL (false) as opened, NORMAL (true) after a relaxed commit.
    private bool _relaxed;
    // Set by every write session: something to checkpoint. The loop resets it when it starts a round.
    private readonly ManualResetEventSlim _written = new();
    private readonly CancellationTokenSource _stopCheckpoints = new();
    private Task _checkpoints = Task.CompletedTask;
    private readonly StoreThread _writer = new(WriterThreadName);
    // The checkpoint connection and the file generation it was opened on (only the checkpoint loop uses them).
    private SqliteConnection? _checkpointer;
    private int _checkpointerGeneration;

    private SqliteDatabase(PreparingSqliteConnection connection, string path, StoreOptions options, TimeProvider time, ILogger logger) : base(SqlDialect.Sqlite, "sqlite:" + path)
    {
        _connection = connection;
        _path = path;
        _options = options;
        _time = time;
        _logger = logger;
    }

    /// <summary>Opens (creating the file and its folder) and sets WAL, full sync and the busy timeout.</summary>
    public static async Task<SqliteDatabase> OpenAsync(string path, StoreOptions options, TimeProvider time, ILogger logger, CancellationToken cancellationToken)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(path);
        var full = Path.GetFullPath(path);
        try
        {
            var database = new SqliteDatabase(await ConnectAsync(full, options, cancellationToken).ConfigureAwait(false), full, options, time, logger);
            database._identity = FileIdentity.Of(full);
            var stop = database._stopCheckpoints.Token;
            database._checkpoints = StoreThread.Start(CheckpointThreadName, () => database.CheckpointLoop(stop));
            return database;
        }
        catch (Exception ex) when (ex is SqliteException or IOException or UnauthorizedAccessException)
        {
            throw new StoreUnavailableException($"sqlite:{full}: {ex.Message}", ex);
        }
    }

    private static async Task<PreparingSqliteConnection> ConnectAsync(string full, StoreOptions options, CancellationToken cancellationToken)
    {
        Directory.CreateDirectory(Path.GetDirectoryName(full)!);
        return await ConnectAsync(full, options, SqliteOpenMode.ReadWriteCreate,
            [
                // WAL: readers never block the writer. synchronous=FULL: a committed pass survives a power cut, not only a crash.
                "PRAGMA journal_mode = WAL",
                "PRAGMA synchronous = FULL",
                // Checkpoints are the checkpoint loop's (see the class remarks); after one, the log file
                // is cut back to 64 MiB if a burst made it longer.
                "PRAGMA wal_autocheckpoint = 0",
                "PRAGMA journal_size_limit = 67108864",
                WriterCache,
            ], cancellationToken).ConfigureAwait(false);
    }

    private static async Task<PreparingSqliteConnection> ConnectAsync(string full, StoreOptions options, SqliteOpenMode mode, string[] pragmas,
        CancellationToken cancellationToken)
    {
        var builder = new SqliteConnectionStringBuilder
        {
            DataSource = full,
            Mode = mode,
            Pooling = false,
            DefaultTimeout = (int)Math.Ceiling(options.BusyTimeout.TotalSeconds),
        };
        var connection = new PreparingSqliteConnection(builder.ToString());
        try
        {
            await connection.OpenAsync(cancellationToken).ConfigureAwait(false);
            foreach (var pragma in pragmas.Append("PRAGMA busy_timeout = " + ((long)options.BusyTimeout.TotalMilliseconds).ToString(CultureInfo.InvariantCulture)))
            {
                await using var command = connection.CreateCommand();
                command.CommandText = pragma;
                await command.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
            }
            return connection;
        }
        catch
        {
            await connection.DisposeAsync().ConfigureAwait(false);
            throw;
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
        try
        {
            // A file removed under us, or another renamed over it (a backup put back with mv), would
            // take every later write with it, answered passes included (the open connection keeps
            // writing to the unlinked inode until the next start): open the file the path names now.
            if (_replacing || _unmigrated || !IsOurFile())
                await ReplaceFileAsync(cancellationToken).ConfigureAwait(false);
        }
        catch
        {
            _gate.Release();
            throw;
        }
        return new Session(this);
    }

    public override async ValueTask<StoreSession> OpenReadSessionAsync(CancellationToken cancellationToken)
    {
        // While the file is being replaced or migrated, reads go through the writer, which does that.
        if (_replacing || _unmigrated)
            return await OpenSessionAsync(cancellationToken).ConfigureAwait(false);
        await _readGate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            var generation = Volatile.Read(ref _fileGeneration);
            while (_readers.TryTake(out var reader))
            {
                if (reader.Generation == generation)
                    return new ReadSession(this, reader);
                await reader.DisposeAsync().ConfigureAwait(false);
            }
            // Only on the writer's file: a file renamed over it would be read with the old one's
            // write-ahead log, still at its path; the writer moves to the new file first.
            if (IsOurFile())
            {
                var connection = await ConnectAsync(_path, _options, SqliteOpenMode.ReadWrite, ["PRAGMA query_only = ON", ReaderCache], cancellationToken).ConfigureAwait(false);
                return new ReadSession(this, new Reader(connection, generation));
            }
        }
        catch
        {
            _readGate.Release();
            throw;
        }
        // The file was removed or replaced: the writer makes a new one or opens the new one.
        _readGate.Release();
        return await OpenSessionAsync(cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Called under the gate: reopens <see cref="_path"/> (creating it) and brings its schema up.</summary>
    private async Task ReplaceFileAsync(CancellationToken cancellationToken)
    {
        if (!_unmigrated)
        {
            if (!_replacing)
            {
                // Once, however long the folder stays unusable.
                if (File.Exists(_path))
                    StoreLog.FileReplaced(_logger, Description);
                else
                    StoreLog.FileRemoved(_logger, Description);
            }
            _replacing = true;
            await _connection.DisposeAsync().ConfigureAwait(false);
            // The old file's WAL and shared-memory index must not be read as the new file's.
            File.Delete(_path + "-wal");
            File.Delete(_path + "-shm");
            _connection = await ConnectAsync(_path, _options, cancellationToken).ConfigureAwait(false);
            _identity = FileIdentity.Of(_path);
            Interlocked.Increment(ref _fileGeneration);
            _relaxed = false;
            _replacing = false;
            _unmigrated = true;
        }
        await using (var session = new Session(this, releasesGate: false))
            await MigrateOnAsync(session, _time.GetUtcNow(), cancellationToken).ConfigureAwait(false);
        _unmigrated = false;
        StoreLog.FileRecreated(_logger, Description, LatestVersion);
    }

    /// <summary>
    /// <see cref="CheckpointPeriod"/> after a write (and then every period while writes go on; an idle
    /// store's loop sleeps without a timer until the next write), copies what it can of the
    /// write-ahead log into the file (PASSIVE: it waits for no reader and no writer, and the writer goes
    /// on meanwhile) on a connection of its own, so that no session waits for it. Runs on a thread of its
    /// own (a checkpoint waits for two fsyncs) and calls SQLite synchronously, as SQLite itself does
    /// underneath its asynchronous methods.
    /// </summary>
    private void CheckpointLoop(CancellationToken stop)
    {
        try
        {
            while (true)
            {
                _written.Wait(stop);
                // Reset as the round starts: a write during its period sets it again for the next round.
                _written.Reset();
                Task.Delay(CheckpointPeriod, _time, stop).GetAwaiter().GetResult();
                if (_replacing || _unmigrated)
                    continue;
                try
                {
                    Checkpoint(stop);
                }
                catch (Exception ex) when (ex is SqliteException or IOException or UnauthorizedAccessException)
                {
                    StoreLog.CheckpointFailed(_logger, Description, ex);
                }
            }
        }
        catch (OperationCanceledException) when (stop.IsCancellationRequested)
        {
        }
    }

    private void Checkpoint(CancellationToken cancellationToken)
    {
        var generation = Volatile.Read(ref _fileGeneration);
        if (_checkpointer is not null && _checkpointerGeneration != generation)
        {
            _checkpointer.Dispose();
            _checkpointer = null;
        }
        if (_checkpointer is null)
        {
            // Not a file renamed over the writer's: its log at the path is still the old file's.
            if (!IsOurFile())
                return;
            // Opening runs synchronously too (Microsoft.Data.Sqlite's OpenAsync does not yield).
            _checkpointer = ConnectAsync(_path, _options, SqliteOpenMode.ReadWrite, [ReaderCache], cancellationToken).GetAwaiter().GetResult();
            _checkpointerGeneration = generation;
        }
        using var command = _checkpointer.CreateCommand();
        command.CommandText = "PRAGMA wal_checkpoint(PASSIVE)";
        command.ExecuteNonQuery();
    }

    /// <summary>Whether the path still names the file the write connection has open.</summary>
    private bool IsOurFile() => _identity is { } ours && FileIdentity.Of(_pathBytes ??= FileIdentity.PathBytes(_path)) == ours;

    /// <summary>
    /// On the writer thread: a commit waits for the disk (fsync, for a pass), and a write for another
    /// process's lock up to the busy timeout. SQLite's asynchronous methods complete synchronously, so
    /// the work runs there from its begin to its commit.
    /// </summary>
    protected override Task<T> RunWriteAsync<T>(Func<Task<T>> write) => _writer.RunAsync(write);

    public override async ValueTask DisposeAsync()
    {
        // The writes posted before run first; later ones are refused (ObjectDisposedException).
        await _writer.CloseAsync().ConfigureAwait(false);
        await _stopCheckpoints.CancelAsync().ConfigureAwait(false);
        await _checkpoints.ConfigureAwait(false);
        if (_checkpointer is not null)
            await _checkpointer.DisposeAsync().ConfigureAwait(false);
        _checkpointer = null;
        await _gate.WaitAsync().ConfigureAwait(false);
        try
        {
            if (_disposed)
                return;
            _disposed = true;
            await _connection.DisposeAsync().ConfigureAwait(false);
            // Wait for the readers in use, close them all, then let waiting readers in to see _disposed.
            for (var i = 0; i < MaxReaders; i++)
                await _readGate.WaitAsync().ConfigureAwait(false);
            while (_readers.TryTake(out var reader))
                await reader.DisposeAsync().ConfigureAwait(false);
            _readGate.Release(MaxReaders);
        }
        finally
        {
            // Not disposed: late waiters must still get in to see _disposed.
            _gate.Release();
        }
    }

    private sealed class Session(SqliteDatabase database, bool releasesGate = true) : StoreSession(database._connection, database.Dialect)
    {
        // Called only while this session holds the gate, so the cache needs no lock of its own.
        public override DbCommand Rent(string sql) => database._connection.Statement(sql);

        public override void Return(DbCommand command) { }

        public override int CommandTimeout => database._connection.DefaultTimeout;

        // In WAL mode, synchronous=NORMAL commits without syncing the WAL (a crash of the process loses
        // nothing, a power cut may lose the last commits); the next FULL commit syncs them all. SQLite
        // refuses to change the level inside a transaction, so it is set before BEGIN, and only when a
        // transaction wants the other level: a run of alike writes pays nothing for it.
        protected override async Task BeforeBeginAsync(bool relaxed, CancellationToken cancellationToken)
        {
            if (relaxed == database._relaxed)
                return;
            await ExecuteRawAsync(relaxed ? "PRAGMA synchronous = NORMAL" : "PRAGMA synchronous = FULL", cancellationToken).ConfigureAwait(false);
            database._relaxed = relaxed;
        }

        public override bool RelaxedFromTheStart => database._relaxed;

        protected override ValueTask ReleaseAsync()
        {
            database._written.Set();
            if (releasesGate)
                database._gate.Release();
            return ValueTask.CompletedTask;
        }
    }

    /// <summary>A read connection (its statements stay prepared on it) and the file generation it was opened on.</summary>
    private sealed class Reader(PreparingSqliteConnection connection, int generation) : IAsyncDisposable
    {
        public PreparingSqliteConnection Connection { get; } = connection;

        public int Generation { get; } = generation;

        public ValueTask DisposeAsync() => Connection.DisposeAsync();
    }

    private sealed class ReadSession(SqliteDatabase database, Reader reader) : StoreSession(reader.Connection, database.Dialect)
    {
        // The reader is this session's alone until it is given back.
        public override DbCommand Rent(string sql) => reader.Connection.Statement(sql);

        public override void Return(DbCommand command) { }

        public override int CommandTimeout => reader.Connection.DefaultTimeout;

        protected override ValueTask ReleaseAsync()
        {
            database._readers.Add(reader);
            database._readGate.Release();
            return ValueTask.CompletedTask;
        }
    }
}
