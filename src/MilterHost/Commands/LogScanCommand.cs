using MilterHost.Chain;
using System.CommandLine;
using Milter.Filters.Stores;
using MilterHost.Configuration;
using MilterHost.Tools.LogScan;

namespace MilterHost.Commands;

/// <summary><c>milterhost logscan</c>: find repeat offenders in sendmail's maillog, ban them or print firewall lines.</summary>
public static class LogScanCommand
{
    /// <summary>The command as the binary runs it: the real clock, config file and ban store.</summary>
    public static Command Create() => Create(MilterHostSetup.BuiltIn);

    /// <summary>The command as an executable with filters of its own runs it: their sections may be in the config.</summary>
    public static Command Create(MilterHostSetup setup)
    {
        ArgumentNullException.ThrowIfNull(setup);
        return Create(TimeProvider.System, (path, error, cancellationToken) => FromConfigAsync(path, setup.Catalog, error, cancellationToken));
    }

    /// <param name="timeProvider">The clock "now" and <c>--since</c> are read from; its local zone is the one classic syslog timestamps are read in.</param>
    /// <param name="environment">
    /// Loads the config at the <c>--config</c> path; on failure writes the errors to the writer and
    /// returns null (exit 1).
    /// </param>
    public static Command Create(TimeProvider timeProvider, Func<string, TextWriter, CancellationToken, Task<LogScanEnvironment?>> environment)
    {
        var config = ConfigOption.Create();
        var logs = new Option<string[]>("--log")
        {
            Description = "Maillog to read; repeat for several. Rotated (.1) and gzip (.gz) files are read as they are.",
            HelpName = "PATH",
            Arity = ArgumentArity.ZeroOrMore,
            AllowMultipleArgumentsPerToken = false,
            DefaultValueFactory = _ => ["/var/log/maillog"],
        };
        var since = CommandOptions.Duration("--since", TimeSpan.FromHours(24), "Only events this recent count.");
        var threshold = new Option<int>("--threshold")
        {
            Description = "Events per IP inside the window that make it an offender.",
            HelpName = "N",
            DefaultValueFactory = _ => 5,
        };
        threshold.Validators.Add(r =>
        {
            if (r.GetValueOrDefault<int>() < 1)
                r.AddError("--threshold must be 1 or more.");
        });
        var ignore = CommandOptions.Networks("--ignore", "Never ban this address or network; repeatable. relay.allow_clients are never banned either.");
        var apply = new Option<bool>("--apply") { Description = "Add the offenders to the dynamic ban list." };
        var banFor = CommandOptions.Duration("--ban-for", TimeSpan.FromDays(7), "How long an --apply ban lasts.");
        var firewall = new Option<FirewallKind?>("--firewall")
        {
            Description = "Print the nft or iptables commands that would block the offenders (never runs them).",
            HelpName = "nft|iptables",
            CustomParser = r =>
            {
                var text = r.Tokens.Count > 0 ? r.Tokens[^1].Value : "";
                if (text.Equals("nft", StringComparison.OrdinalIgnoreCase))
                    return FirewallKind.Nft;
                if (text.Equals("iptables", StringComparison.OrdinalIgnoreCase))
                    return FirewallKind.Iptables;
                r.AddError($"--firewall takes nft or iptables, not '{text}'.");
                return null;
            },
        };
        var json = new Option<bool>("--json") { Description = "Write JSON instead of a table." };

        var command = new Command("logscan", "Find IPs with repeated refused or unauthorized attempts in the maillog and ban them.")
        {
            config, logs, since, threshold, ignore, apply, banFor, firewall, json,
        };
        command.SetAction(async (parse, cancellationToken) =>
        {
            var output = parse.InvocationConfiguration.Output;
            var error = parse.InvocationConfiguration.Error;
            var env = await environment(parse.GetValue(config)!, error, cancellationToken);
            if (env is null)
                return 1;

            var options = new LogScanOptions
            {
                Logs = parse.GetValue(logs) is { Length: > 0 } given ? given : ["/var/log/maillog"],
                Since = parse.GetValue(since).Value,
                Threshold = parse.GetValue(threshold),
                Ignore = parse.GetValue(ignore) ?? [],
                AllowClients = env.AllowClients,
                Zone = timeProvider.LocalTimeZone,
            };
            var report = await new OffenderScan(timeProvider).RunAsync(options, cancellationToken);
            foreach (var failure in report.FileErrors)
                await error.WriteLineAsync($"logscan: cannot read {failure}");

            var duration = parse.GetValue(banFor).Value;
            BanOutcome? applied = null;
            if (parse.GetValue(apply))
            {
                try
                {
                    await env.WithBanStore(
                        async store => applied = await BanApplier.ApplyAsync(store, report.Offenders, duration, report.Now, cancellationToken),
                        cancellationToken);
                }
                catch (StoreUnavailableException e)
                {
                    await error.WriteLineAsync($"logscan: cannot open the ban store: {e.Message}");
                    return 1;
                }
            }
            var script = parse.GetValue(firewall) is { } kind ? FirewallScript.Lines(kind, report.Offenders, duration) : null;

            if (parse.GetValue(json))
            {
                await output.WriteLineAsync(LogScanJsonWriter.Write(report, applied, duration, script));
            }
            else
            {
                LogScanTextWriter.Write(output, report);
                if (applied is not null)
                    await output.WriteLineAsync($"Applied: {applied.Added.Count} new ban(s) for {Duration.Format(duration)}, {applied.AlreadyBanned.Count} already banned.");
                if (script is not null)
                {
                    await output.WriteLineAsync();
                    foreach (var line in script)
                        await output.WriteLineAsync(line);
                }
            }
            return report.FileErrors.Count == 0 ? 0 : 1;
        });
        return command;
    }

    private static Task<LogScanEnvironment?> FromConfigAsync(string path, FilterCatalog catalog, TextWriter error, CancellationToken cancellationToken)
    {
        var loaded = ConfigLoader.Load(path, catalog);
        if (!loaded.Success)
        {
            ConfigErrors.Print(error, loaded.Errors, path);
            return Task.FromResult<LogScanEnvironment?>(null);
        }
        var options = loaded.Config.Options;
        return Task.FromResult<LogScanEnvironment?>(new LogScanEnvironment(options.Relay.AllowClients, async (use, token) =>
        {
            await using var stores = await StoreFactory.OpenAsync(options.Database, TimeProvider.System, cancellationToken: token);
            await use(stores.Bans);
        }));
    }
}
