using MilterHost.Chain;
using System.CommandLine;
using Milter.Filters.Stats;
using Milter.Filters.Stores;
using MilterHost.Configuration;
using MilterHost.Status;

namespace MilterHost.Commands;

/// <summary>
/// <c>milterhost stats [--since 24h] [--json] [--config PATH]</c>: what the milter decided in a window,
/// read from the store's tally (SQLite or PostgreSQL), also while the daemon runs. The JSON is the
/// same as the status listener's <c>/api/summary</c>.
/// </summary>
public static class StatsCommand
{
    public static Command Create() => Create(TimeProvider.System);

    /// <param name="timeProvider">The clock the window ends at.</param>
    /// <param name="setup">The executable's own filters, whose sections the configuration may hold; null: the built-in ones.</param>
    public static Command Create(TimeProvider timeProvider, MilterHostSetup? setup = null)
    {
        var catalog = (setup ?? MilterHostSetup.BuiltIn).Catalog;
        ArgumentNullException.ThrowIfNull(timeProvider);
        var config = ConfigOption.Create();
        var since = CommandOptions.Duration("--since", StatusServer.SummaryWindow,
            $"The window, ending now, in whole minutes (at most {Duration.Format(DecisionTally.Retention)}, as long as the tally is kept).");
        // A longer window would report the tally's 35 days under a label that promises more.
        since.Validators.Add(result =>
        {
            if (result.GetValueOrDefault<CliDuration>().Value > DecisionTally.Retention)
                result.AddError($"--since: at most {Duration.Format(DecisionTally.Retention)}: the tally is kept that long");
        });
        var json = new Option<bool>("--json") { Description = "Write JSON (the same as the status listener's /api/summary) instead of tables." };
        var command = new Command("stats",
            "Decisions per filter and verdict, greylist pass rate and median delay waited, auto-whitelist size, dynamic bans, "
            + "and the top refused networks and sender domains, from the database's tally. Works while the daemon runs; "
            + "the daemon writes its tally every few seconds.")
        {
            config, since, json,
        };
        command.SetAction(async (parse, cancellationToken) =>
        {
            var output = parse.InvocationConfiguration.Output;
            var error = parse.InvocationConfiguration.Error;
            var path = parse.GetValue(config) ?? ConfigLoader.DefaultPath;
            var loaded = ConfigLoader.Load(path, catalog);
            if (!loaded.Success)
            {
                ConfigErrors.Print(error, loaded.Errors, path);
                return 1;
            }
            var options = loaded.Config.Options;
            try
            {
                // As root, as the daemon's user: a database (or WAL) this creates must stay the daemon's.
                Tools.Admin.AdminStore.BecomeDaemonUser(loaded.Config);
                await using var stores = await StoreFactory.OpenAsync(options.Database, timeProvider, cancellationToken: cancellationToken).ConfigureAwait(false);
                var report = await StatsReporter.CreateAsync(stores, options.Greylist, timeProvider.GetUtcNow(), parse.GetValue(since).Value, cancellationToken).ConfigureAwait(false);
                if (parse.GetValue(json))
                    await output.WriteLineAsync(StatsJson.Write(report)).ConfigureAwait(false);
                else
                    StatsText.Write(output, report);
                return 0;
            }
            catch (StoreUnavailableException e)
            {
                await error.WriteLineAsync($"stats: cannot read the database: {e.Message}").ConfigureAwait(false);
                return 1;
            }
            catch (Privileges.PrivilegeException e)
            {
                await error.WriteLineAsync($"stats: {e.Message}").ConfigureAwait(false);
                return 1;
            }
        });
        return command;
    }
}
