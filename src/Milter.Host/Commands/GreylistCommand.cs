using MilterHost.Chain;
using System.CommandLine;
using System.CommandLine.Parsing;
using System.Net;
using Milter.Filters.Greylist;
using MilterHost.Configuration;
using MilterHost.Tools.Admin;

namespace MilterHost.Commands;

/// <summary>
/// <c>milterhost greylist list|stats|allow|remove|purge</c>: look at and change the greylist in the
/// store the configuration names, also while the daemon runs (a running daemon notices allow-list
/// changes and removals within <c>StoreOptions.ChangePoll</c>, two seconds).
/// </summary>
public static class GreylistCommand
{
    public static Command Create() => Create(TimeProvider.System);

    /// <param name="time">"Now" for expiry and new entries, and the zone tables show times in.</param>
    /// <param name="setup">The executable's own filters, whose sections the configuration may hold; null: the built-in ones.</param>
    public static Command Create(TimeProvider time, MilterHostSetup? setup = null) =>
        new("greylist", "Inspect and change the greylist: triplets, the auto-whitelist and the admin allow list.")
        {
            List(time, (setup ?? MilterHostSetup.BuiltIn).Catalog), Stats(time, (setup ?? MilterHostSetup.BuiltIn).Catalog), Allow(time, (setup ?? MilterHostSetup.BuiltIn).Catalog), Remove(time, (setup ?? MilterHostSetup.BuiltIn).Catalog), Purge(time, (setup ?? MilterHostSetup.BuiltIn).Catalog),
        };

    private static Command List(TimeProvider time, FilterCatalog catalog)
    {
        var config = ConfigOption.Create();
        var filters = new SelectionOptions(forRemoval: false);
        var limit = new Option<int>("--limit")
        {
            Description = "At most this many rows per section, the most recently seen first.",
            HelpName = "N",
            DefaultValueFactory = _ => 1000,
        };
        limit.Validators.Add(r =>
        {
            if (r.GetValueOrDefault<int>() < 1)
                r.AddError("--limit must be 1 or more.");
        });
        var json = CommandOptions.Json();
        var command = new Command("list",
            "List live triplets (pending and passed), auto-whitelist entries and the admin allow list. "
            + "--pending, --passed and --whitelisted narrow it to one kind; --client, --sender and --recipient must all match.")
        {
            config, limit, json,
        };
        filters.AddTo(command);
        AdminCommand.SetAction(command, config, "greylist list", time, catalog, async (store, parse, output, cancellationToken) =>
        {
            var selection = filters.Read(parse) with { Limit = parse.GetValue(limit) };
            var listing = await GreylistListing.ReadAsync(store.Stores.Greylist.Admin, selection, store.Options.Greylist.AutoWhitelist.After,
                time.GetUtcNow(), cancellationToken);
            if (parse.GetValue(json))
                await output.WriteLineAsync(GreylistOutput.ListJson(listing));
            else
                GreylistOutput.WriteList(output, listing, time.LocalTimeZone);
            return 0;
        });
        return command;
    }

    private static Command Stats(TimeProvider time, FilterCatalog catalog)
    {
        var config = ConfigOption.Create();
        var top = new Option<int>("--top")
        {
            Description = "How many of the clients with the most pending triplets to show.",
            HelpName = "N",
            DefaultValueFactory = _ => 10,
        };
        top.Validators.Add(r =>
        {
            if (r.GetValueOrDefault<int>() < 1)
                r.AddError("--top must be 1 or more.");
        });
        var json = CommandOptions.Json();
        var command = new Command("stats",
            "Count pending and passed triplets, the pass rate (passed / (pending + passed)), auto-whitelisted clients, "
            + "admin allow entries and expired rows, and show the clients with the most pending triplets.")
        {
            config, top, json,
        };
        AdminCommand.SetAction(command, config, "greylist stats", time, catalog, async (store, parse, output, cancellationToken) =>
        {
            var now = time.GetUtcNow();
            var options = store.Options.Greylist;
            var stats = await store.Stores.Greylist.Admin.StatsAsync(now, options, cancellationToken);
            var pending = await store.Stores.Greylist.Admin.TopPendingClientsAsync(parse.GetValue(top), now, cancellationToken);
            if (parse.GetValue(json))
                await output.WriteLineAsync(GreylistOutput.StatsJson(stats, pending, options.AutoWhitelist.After));
            else
                GreylistOutput.WriteStats(output, stats, pending, options.AutoWhitelist.After, time.LocalTimeZone);
            return 0;
        });
        return command;
    }

    private static Command Allow(TimeProvider time, FilterCatalog catalog)
    {
        var config = ConfigOption.Create();
        var target = new Argument<string>("CIDR|DOMAIN")
        {
            Description = "A client address or network (192.0.2.7, 192.0.2.0/24, 2001:db8::/32), or a sender domain (partner.example).",
        };
        target.Validators.Add(r =>
        {
            if (!AllowTarget.TryParse(r.GetValueOrDefault<string>() ?? "", "", DateTimeOffset.UnixEpoch, null, out _, out var error))
                r.AddError(error!);
        });
        var duration = CommandOptions.OptionalDuration("--for", "How long the entry lasts (e.g. 36d); without it, until removed.");
        var reason = new Option<string?>("--reason") { Description = "Why, for the list.", HelpName = "TEXT" };
        var command = new Command("allow",
            "Let mail from a client network or sender domain skip greylisting (an admin allow entry). Giving an existing entry again replaces it.")
        {
            config, target, duration, reason,
        };
        AdminCommand.SetAction(command, config, "greylist allow", time, catalog, async (store, parse, output, cancellationToken) =>
        {
            var now = time.GetUtcNow();
            var lasts = parse.GetValue(duration);
            AllowTarget.TryParse(parse.GetValue(target)!, parse.GetValue(reason) ?? $"added by {Environment.UserName}", now,
                lasts is { } d ? now + d : null, out var entry, out _);
            await store.Stores.Greylist.Admin.AllowAsync(entry, cancellationToken);
            var until = entry.Expires is { } expires
                ? $"until {TimeText.FormatWithOffset(expires, time.LocalTimeZone)} ({Duration.Format(lasts!.Value)})"
                : "until removed";
            await output.WriteLineAsync($"Allowed {AllowTarget.Describe(entry.Kind)} {entry.Value} {until}.");
            return 0;
        });
        return command;
    }

    private static Command Remove(TimeProvider time, FilterCatalog catalog)
    {
        var config = ConfigOption.Create();
        var target = new Argument<string?>("CIDR|DOMAIN")
        {
            Description = "An admin allow entry to remove, written as it was allowed. Without it, the filters choose triplets and auto-whitelist entries.",
            Arity = ArgumentArity.ZeroOrOne,
        };
        var filters = new SelectionOptions(forRemoval: true);
        var command = new Command("remove",
            "Remove an admin allow entry (greylist remove 192.0.2.0/24), or the triplets and auto-whitelist entries that "
            + "'greylist list' shows with the same filters (greylist remove --client 192.0.2.7), so those clients are greylisted again.")
        {
            config, target,
        };
        filters.AddTo(command);
        command.Validators.Add(r =>
        {
            var given = r.GetValue(target);
            if (given is not null && filters.AnyGiven(r))
                r.AddError("Give either an allow entry to remove or filters (--client, --sender, --recipient, --pending, --passed, --whitelisted), not both.");
            else if (given is null && !filters.AnyGiven(r))
                r.AddError("Say what to remove: an allow entry (CIDR or domain), or at least one filter.");
            else if (given is not null && !AllowTarget.TryParse(given, "", DateTimeOffset.UnixEpoch, null, out _, out var error))
                r.AddError(error!);
        });
        AdminCommand.SetAction(command, config, "greylist remove", time, catalog, async (store, parse, output, cancellationToken) =>
        {
            var greylist = store.Stores.Greylist.Admin;
            if (parse.GetValue(target) is { } text)
            {
                AllowTarget.TryParse(text, "", DateTimeOffset.UnixEpoch, null, out var entry, out _);
                var what = $"{AllowTarget.Describe(entry.Kind)} {entry.Value}";
                if (!await greylist.DisallowAsync(entry.Kind, entry.Value, cancellationToken))
                {
                    await parse.InvocationConfiguration.Error.WriteLineAsync($"greylist remove: no allow entry for {what}");
                    return 1;
                }
                await output.WriteLineAsync($"Removed the allow entry for {what}.");
                return 0;
            }
            var selection = filters.Read(parse) with { Limit = int.MaxValue };
            var now = time.GetUtcNow();
            var triplets = selection.IncludesTriplets ? await greylist.RemoveTripletsAsync(selection.TripletQuery(), now, cancellationToken) : 0;
            var awl = selection.IncludesAutoWhitelist
                ? await greylist.RemoveAutoWhitelistAsync(selection.AutoWhitelistQuery(store.Options.Greylist.AutoWhitelist.After), now, cancellationToken)
                : 0;
            await output.WriteLineAsync($"Removed {triplets} triplet(s) and {awl} auto-whitelist entr{(awl == 1 ? "y" : "ies")}.");
            return 0;
        });
        return command;
    }

    private static Command Purge(TimeProvider time, FilterCatalog catalog)
    {
        var config = ConfigOption.Create();
        var command = new Command("purge",
            "Delete every expired triplet, auto-whitelist entry, allow entry and bypass strike now, in short batches "
            + "(the daemon does this every few minutes anyway).")
        {
            config,
        };
        AdminCommand.SetAction(command, config, "greylist purge", time, catalog, async (store, _, output, cancellationToken) =>
        {
            var rows = await store.Stores.Greylist.Admin.PurgeAsync(time.GetUtcNow(), cancellationToken);
            await output.WriteLineAsync($"Purged {rows} expired row(s).");
            return 0;
        });
        return command;
    }

    /// <summary>The filters <c>list</c> and <c>remove</c> share.</summary>
    private sealed class SelectionOptions
    {
        private readonly Option<bool> _pending;
        private readonly Option<bool> _passed;
        private readonly Option<bool> _whitelisted;
        private readonly Option<IPNetwork?> _client;
        private readonly Option<string?> _sender;
        private readonly Option<string?> _recipient;

        public SelectionOptions(bool forRemoval)
        {
            var verb = forRemoval ? "Remove" : "Show";
            _pending = new Option<bool>("--pending") { Description = $"{verb} only triplets waiting for their retry." };
            _passed = new Option<bool>("--passed") { Description = $"{verb} only triplets that passed." };
            _whitelisted = new Option<bool>("--whitelisted")
            {
                Description = forRemoval
                    ? "Remove only auto-whitelisted clients (auto_whitelist.after passes or more)."
                    : "Show only auto-whitelisted clients (auto_whitelist.after passes or more) and the admin allow list.",
            };
            _client = CommandOptions.Network("--client", "Only this client address or network (subnet keys that overlap it).");
            _sender = new Option<string?>("--sender")
            {
                Description = "Only this sender: an address, @domain (or a bare domain) for all its senders, <> for the null sender.",
                HelpName = "ADDR",
            };
            _recipient = new Option<string?>("--recipient") { Description = "Only this recipient (triplets only).", HelpName = "ADDR" };
        }

        public void AddTo(Command command)
        {
            command.Options.Add(_pending);
            command.Options.Add(_passed);
            command.Options.Add(_whitelisted);
            command.Options.Add(_client);
            command.Options.Add(_sender);
            command.Options.Add(_recipient);
            command.Validators.Add(r =>
            {
                if (new[] { _pending, _passed, _whitelisted }.Count(o => r.GetValue(o)) > 1)
                    r.AddError("--pending, --passed and --whitelisted exclude each other.");
                if (r.GetValue(_whitelisted) && r.GetValue(_recipient) is not null)
                    r.AddError("--recipient applies to triplets; auto-whitelist and allow entries have none.");
            });
        }

        public bool AnyGiven(CommandResult result) =>
            result.GetValue(_pending) || result.GetValue(_passed) || result.GetValue(_whitelisted)
            || result.GetValue(_client) is not null || result.GetValue(_sender) is not null || result.GetValue(_recipient) is not null;

        public GreylistSelection Read(ParseResult parse) => new()
        {
            View = parse.GetValue(_pending) ? GreylistView.Pending
                : parse.GetValue(_passed) ? GreylistView.Passed
                : parse.GetValue(_whitelisted) ? GreylistView.Whitelisted
                : GreylistView.All,
            Client = parse.GetValue(_client),
            Sender = parse.GetValue(_sender) is { } sender ? GreylistSelection.NormalizeSender(sender) : null,
            Recipient = parse.GetValue(_recipient),
        };
    }
}
