using System.Data;
using System.Data.Common;
using Dapper;
using Microsoft.Data.Sqlite;

namespace Milter.Filters.Stores;

/// <summary>
/// The base of every command factory Dapper.AOT generates in this assembly. On a
/// <see cref="PreparingSqliteConnection"/> it hands out the connection's own command for this call
/// site and SQL text with the new values set on its parameters (the generated
/// <c>UpdateParameters</c>), so SQLite compiles each statement once per connection and no command
/// or parameter is built per call; any other connection (PostgreSQL, whose pool prepares by itself)
/// gets a new command as usual.
/// </summary>
/// <typeparam name="T">The parameters' type of the call site.</typeparam>
internal abstract class PreparedCommandFactory<T> : CommandFactory<T>
{
    public override DbCommand GetCommand(DbConnection connection, string sql, CommandType commandType, T args)
    {
        if (connection is not PreparingSqliteConnection sqlite)
            return base.GetCommand(connection, sql, commandType, args);
        if (sqlite.TakePrepared(this, sql) is PreparedSqliteCommand kept)
        {
            // Same factory, same SQL: the kept command's parameters are the ones this factory added,
            // in its order, so UpdateParameters may set them by position, or by the names it gave
            // them. No cache behind it (null).
            kept.UseDapperNames();
            DbCommand? field = kept;
            var reused = TryReuseInterlocked(ref field, sql, commandType, args, null!);
            kept.UseNamesAsWritten();
            if (reused is not null)
                return reused;
        }
        var command = base.GetCommand(connection, sql, commandType, args);
        (command as PreparedSqliteCommand)?.UseNamesAsWritten();
        return command;
    }

    /// <summary>Keeps a finished SQLite command (and its compiled statement) for this factory's next call with the same SQL; false: Dapper disposes it.</summary>
    public override bool TryRecycle(DbCommand command) =>
        command is SqliteCommand { Connection: PreparingSqliteConnection connection } sqlite && connection.KeepPrepared(this, sqlite);
}

/// <summary>
/// A SQLite connection that keeps one finished command per call site (command factory) and SQL
/// text: Microsoft.Data.Sqlite keeps a command's statements compiled as long as its text and
/// connection stay the same. A connection is used by one store session at a time, so the commands
/// need no lock.
/// </summary>
internal sealed class PreparingSqliteConnection(string connectionString) : SqliteConnection(connectionString)
{
    private readonly Dictionary<PreparedKey, SqliteCommand> _prepared = [];

    /// <summary>
    /// Every command of this connection can keep its parameters' two spellings (<see cref="PreparedSqliteCommand"/>).
    /// The stores begin and end transactions in SQL, never through ADO.NET, so a command needs no
    /// transaction object (the base's would be the connection's, always none).
    /// </summary>
    public override SqliteCommand CreateCommand() => new PreparedSqliteCommand { Connection = this, CommandTimeout = DefaultTimeout };

    /// <summary>How many commands are kept (for tests).</summary>
    internal int PreparedCount => _prepared.Count;

    /// <summary>
    /// The command kept for a statement the stores run without Dapper (BEGIN, COMMIT, PRAGMAs): made
    /// on first use and left kept, since a connection serves one session at a time.
    /// </summary>
    public SqliteCommand Statement(string sql)
    {
        var key = new PreparedKey(null, sql);
        if (!_prepared.TryGetValue(key, out var command))
        {
            command = CreateCommand();
            command.CommandText = sql;
            _prepared.Add(key, command);
        }
        return command;
    }

    /// <summary>A kept command for <paramref name="sql"/>, left in place (for tests); null when none is kept.</summary>
    internal SqliteCommand? FindPrepared(string sql) =>
        _prepared.FirstOrDefault(kept => kept.Key.Sql == sql).Value;

    /// <summary>The kept command of <paramref name="factory"/> for <paramref name="sql"/>, taken out so that a nested use gets a new one; null when none is kept.</summary>
    public SqliteCommand? TakePrepared(CommandFactory factory, string sql) =>
        _prepared.Remove(new PreparedKey(factory, sql), out var command) ? command : null;

    /// <summary>Keeps <paramref name="command"/> for <paramref name="factory"/> unless one for its SQL is kept already.</summary>
    public bool KeepPrepared(CommandFactory factory, SqliteCommand command) =>
        _prepared.TryAdd(new PreparedKey(factory, command.CommandText), command);

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

    /// <summary>A call site's factory (compared by reference; null for <see cref="Statement"/>) and its SQL text.</summary>
    private readonly record struct PreparedKey(CommandFactory? Factory, string Sql);
}

/// <summary>
/// A SQLite command whose parameters go by the names the SQL writes while it runs. Dapper names a
/// parameter without its prefix ("Client" for <c>@Client</c>), and Microsoft.Data.Sqlite binds
/// such a name by trying it bare and then with each of <c>@ $ :</c>: four names built and encoded
/// per parameter on every execution. Named <c>@Client</c> (every statement of the stores writes
/// <c>@</c>), the first lookup finds it. Dapper's generated code that sets values by name on a kept
/// command sees its own names meanwhile (<see cref="UseDapperNames"/>).
/// </summary>
internal sealed class PreparedSqliteCommand : SqliteCommand
{
    private string[]? _dapperNames;
    private string[]? _writtenNames;

    /// <summary>Names every parameter as the SQL writes it; the spellings are worked out once per command.</summary>
    public void UseNamesAsWritten()
    {
        var parameters = Parameters;
        if (_writtenNames is null)
        {
            _dapperNames = new string[parameters.Count];
            _writtenNames = new string[parameters.Count];
            for (var i = 0; i < parameters.Count; i++)
            {
                var name = parameters[i].ParameterName;
                _dapperNames[i] = name;
                _writtenNames[i] = name.Length > 0 && name[0] is not ('@' or '$' or ':') ? "@" + name : name;
            }
        }
        for (var i = 0; i < parameters.Count; i++)
            parameters[i].ParameterName = _writtenNames[i];
    }

    /// <summary>Gives the parameters back the names Dapper's code added them with.</summary>
    public void UseDapperNames()
    {
        if (_dapperNames is null)
            return;
        var parameters = Parameters;
        for (var i = 0; i < parameters.Count; i++)
            parameters[i].ParameterName = _dapperNames[i];
    }
}
