using System.CommandLine;
using Microsoft.Extensions.Time.Testing;
using Milter.Filters.Configuration;
using Milter.Filters.Greylist;
using Milter.Filters.Stores;
using MilterHost.Commands;

namespace MilterHost.Tests.Admin;

/// <summary>
/// A config file naming a database, the <c>greylist</c> and <c>ban</c> commands run on it in-process
/// as an admin would type them, and the same database opened directly to set up and check rows.
/// The clock is fake (UTC), so the tables come out the same on every run.
/// </summary>
internal sealed class AdminRun : IDisposable
{
    public static readonly DateTimeOffset Start = new(2026, 3, 2, 9, 0, 0, TimeSpan.Zero);

    private readonly TempDirectory _directory = new();

    /// <param name="database">The <c>database:</c> setting; null: a SQLite file in the temp folder.</param>
    public AdminRun(string? database = null, string extraYaml = "")
    {
        Database = database ?? "sqlite:" + _directory.Combine("milterhost.db");
        ConfigPath = _directory.Combine("milterhost.yaml");
        File.WriteAllText(ConfigPath,
            $"database: \"{Database}\"\nuser: root\nrelay: {{ allow_clients: [127.0.0.1] }}\n"
            + "greylist: { auto_whitelist: { after: 2 } }\n" + extraYaml);
    }

    public FakeTimeProvider Time { get; } = new(Start);

    public string Database { get; }

    public string ConfigPath { get; }

    /// <summary>The greylist settings the config above gives (auto-whitelisted after 2 passes).</summary>
    public static GreylistOptions Greylist { get; } = new() { AutoWhitelist = new AutoWhitelistOptions { After = 2 } };

    public string Combine(string name) => _directory.Combine(name);

    /// <summary>Runs <c>milterhost ARGS --config FILE</c> in-process; returns the exit status and what it wrote.</summary>
    public async Task<(int Exit, string Output, string Error)> RunAsync(params string[] args) =>
        await CommandTests.Run(new RootCommand("test") { GreylistCommand.Create(Time), BanCommand.Create(Time) }, [.. args, "--config", ConfigPath]);

    /// <summary>The database as the daemon would open it.</summary>
    public Task<MilterStores> OpenAsync() => StoreFactory.OpenAsync(Database, Time);

    public void Dispose() => _directory.Dispose();
}
