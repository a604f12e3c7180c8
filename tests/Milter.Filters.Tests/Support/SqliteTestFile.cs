using Microsoft.Data.Sqlite;

namespace Milter.Filters.Tests.Support;

/// <summary>A SQLite database file in a temp folder of its own, and the ways a test reaches it from outside the stores.</summary>
internal sealed class SqliteTestFile(string name, string relativePath = "milterhost.db") : IDisposable
{
    public string Folder { get; } = Path.Combine(Path.GetTempPath(), $"milterhost-{name}-{Guid.NewGuid():N}");

    public string FilePath => Path.Combine(Folder, relativePath);

    /// <summary>The <c>database:</c> setting.</summary>
    public string Setting => "sqlite:" + FilePath;

    /// <summary>Runs SQL as another program would; the first column of the first row.</summary>
    public async Task<long> ScalarAsync(string sql)
    {
        await using var connection = Open();
        await connection.OpenAsync();
        await using var command = connection.CreateCommand();
        command.CommandText = sql;
        var value = await command.ExecuteScalarAsync();
        return value is null or DBNull ? 0 : Convert.ToInt64(value, System.Globalization.CultureInfo.InvariantCulture);
    }

    /// <summary>Another process holding the write lock until disposed: writers wait out their busy timeout, readers go on.</summary>
    public async Task<IAsyncDisposable> LockAsync()
    {
        var connection = Open();
        await connection.OpenAsync();
        await using (var command = connection.CreateCommand())
        {
            command.CommandText = "BEGIN EXCLUSIVE";
            await command.ExecuteNonQueryAsync();
        }
        return connection;
    }

    public void Dispose()
    {
        if (Directory.Exists(Folder))
            Directory.Delete(Folder, recursive: true);
    }

    private SqliteConnection Open() => new($"Data Source={FilePath};Pooling=False");
}
