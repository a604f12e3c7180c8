using MilterHost.Chain;
using System.CommandLine;
using System.Net;
using Milter.Filters.Stores;
using MilterHost.Configuration;
using MilterHost.Tools.Admin;

namespace MilterHost.Commands;

/// <summary>
/// <c>milterhost ban list|add|remove</c>: the dynamic ban list (refused at CONNECT) in the store the
/// configuration names. A running daemon applies a change to the connections that arrive after its
/// next change poll (<c>StoreOptions.ChangePoll</c>, two seconds).
/// </summary>
public static class BanCommand
{
    public static Command Create() => Create(TimeProvider.System);

    /// <param name="time">"Now" for new bans and expiry, and the zone tables show times in.</param>
    /// <param name="setup">The executable's own filters, whose sections the configuration may hold; null: the built-in ones.</param>
    public static Command Create(TimeProvider time, MilterHostSetup? setup = null) =>
        new("ban", "Inspect and change the dynamic ban list: client networks refused at connect until their ban expires.")
        {
            List(time, (setup ?? MilterHostSetup.BuiltIn).Catalog), Add(time, (setup ?? MilterHostSetup.BuiltIn).Catalog), Remove(time, (setup ?? MilterHostSetup.BuiltIn).Catalog),
        };

    private static Command List(TimeProvider time, FilterCatalog catalog)
    {
        var config = ConfigOption.Create();
        var json = CommandOptions.Json();
        var command = new Command("list", "List the active bans, newest first: network, where it came from (admin, logscan, bypass), when it ends, why.")
        {
            config, json,
        };
        AdminCommand.SetAction(command, config, "ban list", time, catalog, async (store, parse, output, cancellationToken) =>
        {
            var bans = await store.Stores.Bans.ListAsync(time.GetUtcNow(), cancellationToken);
            if (parse.GetValue(json))
                await output.WriteLineAsync(BanOutput.ListJson(bans));
            else
                BanOutput.WriteList(output, bans, time.LocalTimeZone);
            return 0;
        });
        return command;
    }

    private static Command Add(TimeProvider time, FilterCatalog catalog)
    {
        var config = ConfigOption.Create();
        var network = CommandOptions.NetworkArgument("CIDR", "The client address or network to refuse (203.0.113.7, 203.0.113.0/24, 2001:db8::/48).");
        var duration = CommandOptions.Duration("--for", TimeSpan.FromDays(7), "How long the ban lasts.");
        var reason = new Option<string?>("--reason") { Description = "Why, for the list and the log.", HelpName = "TEXT" };
        var command = new Command("add",
            "Refuse a client address or network at connect (550 5.7.1 Access denied) for a while. "
            + "Banning a network that is already banned for longer changes nothing; for less long, extends it.")
        {
            config, network, duration, reason,
        };
        AdminCommand.SetAction(command, config, "ban add", time, catalog, async (store, parse, output, cancellationToken) =>
        {
            var now = time.GetUtcNow();
            var target = parse.GetValue(network);
            var lasts = parse.GetValue(duration).Value;
            var error = parse.InvocationConfiguration.Error;
            foreach (var trusted in store.Options.Relay.AllowClients.Where(a => NetworkOverlap.Overlaps(a, target)))
                await error.WriteLineAsync($"ban add: warning: {target} overlaps relay.allow_clients {trusted}; those clients are refused too");
            var ban = new DynamicBan(target, parse.GetValue(reason) ?? $"added by {Environment.UserName}", BanSource.Admin, now, now + lasts);
            var zone = time.LocalTimeZone;
            if (await store.Stores.Bans.AddAsync(ban, cancellationToken))
            {
                await output.WriteLineAsync($"Banned {target} until {TimeText.FormatWithOffset(ban.Expires, zone)} ({Duration.Format(lasts)}).");
                return 0;
            }
            var existing = (await store.Stores.Bans.ListAsync(now, cancellationToken)).FirstOrDefault(b => b.Network.Equals(target));
            await output.WriteLineAsync(existing is null
                ? $"{target} is already banned for at least as long; unchanged."
                : $"{target} is already banned until {TimeText.FormatWithOffset(existing.Expires, zone)}; unchanged.");
            return 0;
        });
        return command;
    }

    private static Command Remove(TimeProvider time, FilterCatalog catalog)
    {
        var config = ConfigOption.Create();
        var network = CommandOptions.NetworkArgument("CIDR", "The banned network, exactly as 'ban list' shows it.");
        var command = new Command("remove", "Lift the ban of exactly this network (exit 1 when there is none).")
        {
            config, network,
        };
        AdminCommand.SetAction(command, config, "ban remove", time, catalog, async (store, parse, output, cancellationToken) =>
        {
            var target = parse.GetValue(network);
            if (await store.Stores.Bans.RemoveAsync(target, cancellationToken))
            {
                await output.WriteLineAsync($"Removed the ban of {target}.");
                return 0;
            }
            var error = parse.InvocationConfiguration.Error;
            var covering = await store.Stores.Bans.FindAsync(target.BaseAddress, time.GetUtcNow(), cancellationToken);
            await error.WriteLineAsync(covering is null
                ? $"ban remove: no ban for {target}"
                : $"ban remove: no ban for exactly {target}; it lies inside the ban of {covering.Network}");
            return 1;
        });
        return command;
    }
}
