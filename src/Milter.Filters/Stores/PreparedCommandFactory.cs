using System.Data;
using System.Data.Common;
using Dapper;
using Microsoft.Data.Sqlite;

namespace Milter.Filters.Stores;

/// <summary>
/// The base of every command factory Dapper.AOT generates in this assembly. On a
/// <see cref="PreparingSqliteConnection"/> it hands out the connection's own command for the SQL
/// text, so SQLite compiles each statement once per connection instead of once per call; any
/// other connection (PostgreSQL, whose pool prepares by itself) gets a new command as usual.
/// </summary>
/// <typeparam name="T">The parameters' type of the call site.</typeparam>
internal abstract class PreparedCommandFactory<T> : CommandFactory<T>
{
    public override DbCommand GetCommand(DbConnection connection, string sql, CommandType commandType, T args)
    {
        var fresh = base.GetCommand(connection, sql, commandType, args);
        if (connection is not PreparingSqliteConnection sqlite || sqlite.TakePrepared(sql) is not { } kept)
            return fresh;
        // The generated code binds the parameters on a new command only; they move to the kept one
        // (another call site may have used the same SQL with other parameter types).
        var parameters = fresh.Parameters;
        var moved = new SqliteParameter[parameters.Count];
        for (var i = 0; i < moved.Length; i++)
            moved[i] = (SqliteParameter)parameters[i];
        parameters.Clear();
        fresh.Dispose();
        kept.Parameters.Clear();
        kept.Parameters.AddRange(moved);
        return kept;
    }

    /// <summary>Keeps a finished SQLite command (and its compiled statement) for the next call with the same SQL; false: Dapper disposes it.</summary>
    public override bool TryRecycle(DbCommand command) =>
        command is SqliteCommand { Connection: PreparingSqliteConnection connection } sqlite && connection.KeepPrepared(sqlite);
}

/// <summary>
/// A SQLite connection that keeps one finished command per SQL text: Microsoft.Data.Sqlite keeps a
/// command's statements compiled as long as its text and connection stay the same. A connection is
/// used by one store session at a time, so the commands need no lock.
/// </summary>
internal sealed class PreparingSqliteConnection(string connectionString) : SqliteConnection(connectionString)
{
    private readonly Dictionary<string, SqliteCommand> _prepared = new(StringComparer.Ordinal);

    /// <summary>How many commands are kept (for tests).</summary>
    internal int PreparedCount => _prepared.Count;

    /// <summary>The kept command for <paramref name="sql"/>, taken out so that a nested use of the same SQL gets a new one; null when none is kept.</summary>
    public SqliteCommand? TakePrepared(string sql) => _prepared.Remove(sql, out var command) ? command : null;

    /// <summary>Keeps <paramref name="command"/> unless one for its SQL is kept already.</summary>
    public bool KeepPrepared(SqliteCommand command) => _prepared.TryAdd(command.CommandText, command);

    protected override void Dispose(bool disposing)
    {
        if (disposing)
        {
            foreach (var command in _prepared.Values)
                command.Dispose();
            _prepared.Clear();
        }
        base.Dispose(disposing);
    }
}
