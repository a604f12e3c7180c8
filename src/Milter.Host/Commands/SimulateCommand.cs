using MilterHost.Chain;
using System.CommandLine;
using System.CommandLine.Parsing;
using System.Net;
using Microsoft.Extensions.Logging;
using Milter.Filters;
using Milter.Filters.Context;
using Milter.Filters.Ban;
using Milter.Filters.Greylist;
using Milter.Filters.Stores;
using MilterHost.Configuration;
using MilterHost.Hosting;
using MilterHost.Simulation;

namespace MilterHost.Commands;

/// <summary>
/// <c>milterhost simulate --client IP [--client-name N] [--helo H] --from A --to B... [--subject S] [--auth USER] [--record] [--json]</c>:
/// plays one made-up SMTP session to the configured chain on the configured store and prints, stage
/// by stage, the verdict, the SMTP reply and the filter and rule that decided.
/// </summary>
public static class SimulateCommand
{
    /// <param name="time">The clock the chain and the store read; null: the system clock.</param>
    /// <param name="setup">The executable's own filters; null: the built-in ones.</param>
    public static Command Create(TimeProvider? time = null, MilterHostSetup? setup = null)
    {
        setup ??= MilterHostSetup.BuiltIn;
        var config = ConfigOption.Create();
        var client = new Option<IPAddress>("--client")
        {
            Description = "The SMTP client's address (IPv4 or IPv6).",
            HelpName = "IP",
            Required = true,
            CustomParser = ParseAddress,
        };
        var clientName = Text("--client-name", "NAME", "The client's host name as sendmail would report it (reverse DNS). Default: unresolved, like [203.0.113.9].");
        var helo = Text("--helo", "NAME", "The HELO/EHLO name. Default: the client name, else the address literal.");
        var from = Text("--from", "ADDRESS", "The envelope sender (MAIL FROM); '<>' for the null sender of a bounce.", emptyAllowed: true);
        from.Required = true;
        var to = new Option<string[]>("--to")
        {
            Description = "An envelope recipient (RCPT TO); repeat the option or list several after it.",
            HelpName = "ADDRESS",
            Required = true,
            Arity = ArgumentArity.OneOrMore,
            AllowMultipleArgumentsPerToken = true,
        };
        to.Validators.Add(r => CheckText(r, "--to", r.GetValueOrDefault<string[]>() ?? [], emptyAllowed: false));
        var subject = Text("--subject", "TEXT", "The Subject header (RFC 2047 encoded words are decoded, as for real mail). Default: no Subject.", emptyAllowed: true);
        var auth = Text("--auth", "USER", "Simulate an SMTP-authenticated session with this login ({auth_authen}).");
        var record = new Option<bool>("--record")
        {
            Description = "Write to the store what a real delivery attempt would (greylist triplets, auto-whitelist, bypass-ban strikes). "
                + "Without it nothing is written.",
        };
        var json = new Option<bool>("--json") { Description = "Write JSON instead of a table." };

        var command = new Command("simulate",
            "Play one SMTP session to the configured filter chain, exactly as sendmail would over the milter protocol, and print each "
            + "stage's verdict, SMTP reply and the filter and rule that decided; a filter in monitor mode shows what it would have done "
            + "('reject (monitor, not applied)') above what the MTA was told. Reads the configured store; writes nothing unless --record. "
            + "Exit status: 0 accepted (for at least one recipient), 2 refused, 3 deferred (tempfail), 4 discarded, 1 an error.")
        {
            config, client, clientName, helo, from, to, subject, auth, record, json,
        };
        command.SetAction(async (parse, cancellationToken) =>
        {
            var request = new SimulationRequest
            {
                Client = parse.GetValue(client)!,
                ClientName = parse.GetValue(clientName),
                Helo = parse.GetValue(helo),
                From = parse.GetValue(from)!,
                To = parse.GetValue(to)!,
                Subject = parse.GetValue(subject),
                AuthUser = parse.GetValue(auth),
            };
            var path = parse.GetValue(config) ?? ConfigLoader.DefaultPath;
            return await RunAsync(path, setup, request, parse.GetValue(record), parse.GetValue(json), time ?? TimeProvider.System,
                parse.InvocationConfiguration.Output, parse.InvocationConfiguration.Error, cancellationToken).ConfigureAwait(false);
        });
        return command;
    }

    private static async Task<int> RunAsync(string path, MilterHostSetup setup, SimulationRequest request, bool record, bool json, TimeProvider time,
        TextWriter output, TextWriter error, CancellationToken cancellationToken)
    {
        var loaded = ConfigLoader.Load(path, setup.Catalog);
        if (!loaded.Success)
        {
            ConfigErrors.Print(error, loaded.Errors, path);
            return 1;
        }
        var config = loaded.Config;
        var options = config.Options;
        var database = config.Database;
        var notes = new List<string>();
        var target = options.Database;
        string? scratch = null;
        // Creating the database would be a write: a store that does not exist yet is simulated by an empty one.
        if (!record && database.Kind == DatabaseKind.Sqlite && !File.Exists(database.Target))
        {
            scratch = Directory.CreateTempSubdirectory("milterhost-simulate-").FullName;
            target = "sqlite:" + Path.Combine(scratch, "empty.db");
            notes.Add($"note: {database.Target} does not exist yet; simulated against an empty store");
        }

        using var warnings = new WarningWriter(error);
        using var loggers = LoggerFactory.Create(b => b.SetMinimumLevel(LogLevel.Warning).AddProvider(warnings));
        try
        {
            MilterStores stores;
            try
            {
                // The daemon's database, as root: opened as the daemon's user, so a WAL it creates stays the daemon's.
                if (scratch is null)
                    Tools.Admin.AdminStore.BecomeDaemonUser(config);
                stores = await StoreFactory.OpenAsync(target, time, loggers, cancellationToken: cancellationToken).ConfigureAwait(false);
            }
            catch (Exception e) when (e is StoreUnavailableException or ArgumentException or Privileges.PrivilegeException)
            {
                await error.WriteLineAsync($"simulate: cannot open the database {database.ToDisplayString()}: {e.Message}").ConfigureAwait(false);
                return 1;
            }
            await using (stores.ConfigureAwait(false))
            {
                IGreylistCheck greylist = record ? stores.Greylist.Check : new ReadOnlyGreylistCheck(stores.Greylist.Check);
                IDynamicBanStore bans = record ? stores.Bans : new ReadOnlyDynamicBanStore(stores.Bans);
                FilterChain chain;
                try
                {
                    chain = new PolicyBuilder(greylist, stores.BypassBans, bans, NoDecisions.Instance, time, loggers, setup.Catalog, setup.BuildServices()).BuildChain(config);
                }
                catch (Exception e) when (e is FormatException or ArgumentException or IOException or UnauthorizedAccessException)
                {
                    await error.WriteLineAsync($"simulate: cannot build the filter chain from {config.Path}: {e.Message}").ConfigureAwait(false);
                    return 1;
                }

                var simulator = new Simulator(chain, PolicyBuilder.ServerOptions(options), time);
                var report = await simulator.RunAsync(request, null, cancellationToken).ConfigureAwait(false);
                if (record)
                    await RecordMisbehaviourAsync(report, stores.BypassBans, options, time, loggers, error, cancellationToken).ConfigureAwait(false);

                var setting = new SimulationSetting(config.Path, database.ToDisplayString(), record, notes);
                if (json)
                    await output.WriteLineAsync(SimulationJsonWriter.Write(report, setting)).ConfigureAwait(false);
                else
                    SimulationTextWriter.Write(output, report, setting);
                return ExitStatus(report.Outcome);
            }
        }
        finally
        {
            if (scratch is not null)
                Directory.Delete(scratch, recursive: true);
        }
    }

    /// <summary>How the message ended, for scripts: 0 accepted (for at least one recipient), 2 refused, 3 deferred, 4 discarded; 1 is left to errors.</summary>
    internal static int ExitStatus(SimulationOutcome outcome) => outcome.Verdict switch
    {
        Milter.Protocol.Replies.VerdictKind.Reject => 2,
        Milter.Protocol.Replies.VerdictKind.Tempfail => 3,
        Milter.Protocol.Replies.VerdictKind.Discard => 4,
        _ => 0,
    };

    /// <summary>With <c>--record</c> the refusals count towards the bypass ban, as the daemon counts them, and are written before we exit.</summary>
    private static async Task RecordMisbehaviourAsync(SimulationReport report, IBypassBanStore store, Milter.Filters.Configuration.MilterOptions options,
        TimeProvider time, ILoggerFactory loggers, TextWriter error, CancellationToken cancellationToken)
    {
        if (!options.Greylist.Enabled)
            return;
        var recorder = new BypassBanRecorder(null, store, options, time, loggers.CreateLogger<BypassBanRecorder>());
        var session = new SessionContext { ClientAddress = report.Request.Client, AuthenticatedUser = report.Request.AuthUser };
        foreach (var decision in report.Steps.Select(s => s.Decision).OfType<Decision>())
        {
            try
            {
                if (await recorder.RecordAsync(session, decision, cancellationToken).ConfigureAwait(false) is { } ban)
                    await error.WriteLineAsync($"simulate: recorded: {ban.Network} is now on the dynamic ban list until {ban.Expires:u} ({ban.Reason})").ConfigureAwait(false);
            }
            catch (StoreUnavailableException e)
            {
                await error.WriteLineAsync($"simulate: the refusal was not counted for the bypass ban: {e.Message}").ConfigureAwait(false);
            }
        }
    }

    private static Option<string?> Text(string name, string helpName, string description, bool emptyAllowed = false)
    {
        var option = new Option<string?>(name) { Description = description, HelpName = helpName };
        option.Validators.Add(r => CheckText(r, name, r.GetValueOrDefault<string?>() is { } value ? [value] : [], emptyAllowed));
        return option;
    }

    // The milter protocol carries NUL-terminated strings; SMTP has no CR or LF inside a value.
    private static void CheckText(OptionResult result, string name, IReadOnlyList<string> values, bool emptyAllowed)
    {
        foreach (var value in values)
        {
            if (!emptyAllowed && string.IsNullOrWhiteSpace(value))
                result.AddError($"{name} must not be empty.");
            else if (value.AsSpan().IndexOfAny('\0', '\r', '\n') >= 0)
                result.AddError($"{name} '{value.ReplaceLineEndings(" ")}' holds a NUL, CR or LF.");
        }
    }

    private static IPAddress ParseAddress(ArgumentResult result)
    {
        var text = result.Tokens.Count > 0 ? result.Tokens[^1].Value : "";
        if (IPAddress.TryParse(text.Trim('[', ']'), out var address) && !text.Contains('/', StringComparison.Ordinal))
            return address.IsIPv4MappedToIPv6 ? address.MapToIPv4() : address;
        result.AddError($"--client '{text}' is not an IP address (write 203.0.113.9 or 2001:db8::1).");
        return IPAddress.None;
    }
}
