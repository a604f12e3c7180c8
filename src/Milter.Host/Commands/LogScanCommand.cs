using MilterHost.Chain;
using System.CommandLine;
using System.Net;
using System.Net.NetworkInformation;
using Milter.Filters.Stores;
using MilterHost.Configuration;
using MilterHost.Privileges;
using MilterHost.Tools.Admin;
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
            Description = "Maillog to read; repeat for several. Rotated (.1) and gzip (.gz) files are read as they are. " +
                "Default: /var/log/maillog or /var/log/mail.log, and the systemd journal when neither exists.",
            HelpName = "PATH",
            Arity = ArgumentArity.ZeroOrMore,
            AllowMultipleArgumentsPerToken = false,
        };
        var journal = new Option<bool>("--journal")
        {
            Description = "Read sendmail.service's and milterhost.service's entries from the systemd journal (journalctl -o json).",
        };
        var state = new Option<string?>("--state")
        {
            Description = "Remember where this run stopped and start the next one there (journal cursor, file inode and offset). " +
                "Default with --apply: logscan.state beside the SQLite database; 'none' reads everything in the window again.",
            HelpName = "PATH|none",
        };
        var since = CommandOptions.OptionalDuration("--since", "Only events this recent count. Default: logscan.since of the config (24h).");
        var threshold = new Option<int?>("--threshold")
        {
            Description = "Events per IP inside the window that make it an offender. Default: logscan.threshold of the config (5).",
            HelpName = "N",
        };
        threshold.Validators.Add(r =>
        {
            if (r.GetValueOrDefault<int?>() is < 1)
                r.AddError("--threshold must be 1 or more.");
        });
        var ignore = CommandOptions.Networks("--ignore", "Never ban this address or network; repeatable. relay.allow_clients are never banned either.");
        var apply = new Option<bool>("--apply") { Description = "Add the offenders to the dynamic ban list." };
        var banFor = CommandOptions.OptionalDuration("--ban-for", "How long an --apply ban lasts. Default: logscan.ban_for of the config (7d).");
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

        var command = new Command("logscan", "Find IPs with repeated refused or unauthorized attempts in the maillog; with --apply, ban them.")
        {
            config, logs, journal, since, threshold, ignore, apply, banFor, firewall, json, state,
        };
        command.SetAction(async (parse, cancellationToken) =>
        {
            var output = parse.InvocationConfiguration.Output;
            var error = parse.InvocationConfiguration.Error;
            var env = await environment(parse.GetValue(config)!, error, cancellationToken);
            if (env is null)
                return 1;

            var fromJournal = parse.GetValue(journal);
            var files = parse.GetValue(logs) is { Length: > 0 } given ? given : fromJournal ? [] : FirstExisting(env.DefaultLogs);
            var statePath = parse.GetValue(state) is { } named ? (named == "none" ? null : named) : parse.GetValue(apply) ? env.StatePath : null;
            LogScanState? saved = null;
            if (statePath is not null)
            {
                try
                {
                    saved = LogScanState.Load(statePath);
                }
                catch (Exception e) when (e is InvalidDataException or IOException or UnauthorizedAccessException)
                {
                    // The window still bounds what is counted twice; the broken file is replaced at the end.
                    await error.WriteLineAsync($"logscan: ignoring the state file: {e.Message}");
                    saved = new LogScanState();
                }
            }
            var options = new LogScanOptions
            {
                Logs = files,
                Journal = fromJournal || files.Length == 0,
                Journalctl = env.Journalctl,
                Since = parse.GetValue(since) ?? env.Settings.Since,
                Threshold = parse.GetValue(threshold) ?? env.Settings.Threshold,
                Ignore = parse.GetValue(ignore) ?? [],
                AllowClients = env.AllowClients,
                OwnAddresses = env.OwnAddresses,
                Zone = timeProvider.LocalTimeZone,
            };
            var report = await new OffenderScan(timeProvider).RunAsync(options, saved, cancellationToken);
            foreach (var failure in report.FileErrors)
                await error.WriteLineAsync($"logscan: cannot read {failure}");
            foreach (var warning in report.Warnings)
                await error.WriteLineAsync($"logscan: {warning}");
            if (env.OwnAddressesUnreadable is { } why)
                await error.WriteLineAsync($"logscan: cannot list this host's addresses ({why}): only loopback and relay.allow_clients are exempt; name the others with --ignore");

            var duration = parse.GetValue(banFor) ?? env.Settings.BanFor;
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
                catch (PrivilegeException e)
                {
                    await error.WriteLineAsync($"logscan: {e.Message}");
                    return 1;
                }
            }
            if (statePath is not null && report.State is not null)
            {
                // After --apply, as the daemon's user: the file is theirs, beside their database.
                try
                {
                    report.State.Save(statePath);
                }
                catch (Exception e) when (e is IOException or UnauthorizedAccessException)
                {
                    await error.WriteLineAsync($"logscan: cannot save the state to {statePath}: {e.Message}");
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

    private static string[] FirstExisting(IReadOnlyList<string> candidates) =>
        candidates.FirstOrDefault(File.Exists) is { } found ? [found] : [];

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
            // The logs were read as whoever runs this (root may read what the daemon's user cannot); the
            // store is opened as the daemon's user, so a database created now is the daemon's.
            AdminStore.BecomeDaemonUser(loaded.Config);
            await using var stores = await StoreFactory.OpenAsync(options.Database, TimeProvider.System, cancellationToken: token);
            await use(stores.Bans);
        })
        {
            OwnAddresses = HostAddresses(out var unreadable),
            OwnAddressesUnreadable = unreadable,
            StatePath = StatePathFor(loaded.Config),
            Settings = options.LogScan,
        });
    }

    /// <summary><c>logscan.state</c> beside a SQLite database; for PostgreSQL in systemd's <c>$STATE_DIRECTORY</c> or /var/lib/milterhost.</summary>
    private static string StatePathFor(LoadedConfig config)
    {
        const string name = "logscan.state";
        if (config.Database.Kind == DatabaseKind.Sqlite)
            return Path.Combine(Path.GetDirectoryName(Path.GetFullPath(config.Database.Target))!, name);
        var folder = Environment.GetEnvironmentVariable("STATE_DIRECTORY")?.Split(':')[0];
        return Path.Combine(string.IsNullOrEmpty(folder) ? "/var/lib/milterhost" : folder, name);
    }

    /// <summary>Every address of every interface of this host, scope ids dropped as the scan drops them.</summary>
    private static HashSet<IPAddress> HostAddresses(out string? unreadable)
    {
        var addresses = new HashSet<IPAddress>();
        unreadable = null;
        try
        {
            foreach (var network in NetworkInterface.GetAllNetworkInterfaces())
            {
                foreach (var unicast in network.GetIPProperties().UnicastAddresses)
                {
                    if (ClientAddress.ParseAddress(unicast.Address.ToString()) is { } address)
                        addresses.Add(address);
                }
            }
        }
        catch (NetworkInformationException e)
        {
            // No interface list (a sandbox without netlink or /proc/net): said, since the host's own addresses are then bannable.
            unreadable = e.Message;
        }
        return addresses;
    }
}
