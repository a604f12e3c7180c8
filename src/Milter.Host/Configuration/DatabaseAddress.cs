using System.Data.Common;

namespace MilterHost.Configuration;

/// <summary>
/// The <c>database:</c> setting: <c>sqlite:PATH</c> (one host) or <c>postgres:CONNECTION-STRING</c>
/// (several MX hosts sharing greylist and bans), e.g. <c>postgres:Host=db;Database=milter;Username=milter</c>.
/// </summary>
public sealed record DatabaseAddress
{
    private const string SqlitePrefix = "sqlite:";
    private const string PostgresPrefix = "postgres:";

    private DatabaseAddress(DatabaseKind kind, string target)
    {
        Kind = kind;
        Target = target;
    }

    public DatabaseKind Kind { get; }

    /// <summary>The absolute SQLite file path, or the Npgsql connection string.</summary>
    public string Target { get; }

    /// <summary>Parses the setting; a relative SQLite path is taken relative to <paramref name="baseDirectory"/>.</summary>
    public static bool TryParse(string text, string baseDirectory, out DatabaseAddress? address, out string? error)
    {
        ArgumentNullException.ThrowIfNull(text);
        ArgumentNullException.ThrowIfNull(baseDirectory);
        address = null;
        error = null;
        if (text.StartsWith(SqlitePrefix, StringComparison.Ordinal))
        {
            var path = text[SqlitePrefix.Length..];
            if (path.Length == 0 || path.EndsWith('/'))
            {
                error = $"'{text}' names no database file; write sqlite:PATH, e.g. sqlite:/var/lib/milterhost/milterhost.db";
                return false;
            }
            address = new DatabaseAddress(DatabaseKind.Sqlite, Path.GetFullPath(path, baseDirectory));
            return true;
        }
        if (text.StartsWith(PostgresPrefix, StringComparison.Ordinal))
        {
            var connectionString = text[PostgresPrefix.Length..];
            try
            {
                // Npgsql's own builder: a key it does not know is an error here, not at the daemon's start.
                var builder = new Npgsql.NpgsqlConnectionStringBuilder(connectionString);
                if (builder.Count == 0)
                {
                    error = $"'{text}' has an empty connection string; write postgres:Host=HOST;Database=NAME;Username=USER";
                    return false;
                }
            }
            catch (ArgumentException ex)
            {
                error = $"'{text}' has a malformed connection string: {ex.Message}";
                return false;
            }
            address = new DatabaseAddress(DatabaseKind.Postgres, connectionString);
            return true;
        }
        error = $"'{text}' is not a database; write sqlite:PATH or postgres:CONNECTION-STRING";
        return false;
    }

    /// <exception cref="FormatException">Not a database setting.</exception>
    public static DatabaseAddress Parse(string text, string? baseDirectory = null) =>
        TryParse(text, baseDirectory ?? Directory.GetCurrentDirectory(), out var address, out var error)
            ? address!
            : throw new FormatException(error);

    /// <summary>The setting as it can be written back (the password included).</summary>
    public override string ToString() => (Kind == DatabaseKind.Sqlite ? SqlitePrefix : PostgresPrefix) + Target;

    /// <summary>The setting with any password replaced by <c>********</c>, for printing and logs.</summary>
    public string ToDisplayString()
    {
        if (Kind == DatabaseKind.Sqlite)
            return ToString();
        var builder = new DbConnectionStringBuilder { ConnectionString = Target };
        var secrets = builder.Keys.Cast<string>()
            .Where(k => k.Equals("password", StringComparison.OrdinalIgnoreCase) || k.Equals("pwd", StringComparison.OrdinalIgnoreCase))
            .ToList();
        if (secrets.Count == 0)
            return ToString();
        foreach (var key in secrets)
            builder[key] = "********";
        return PostgresPrefix + builder.ConnectionString;
    }
}
