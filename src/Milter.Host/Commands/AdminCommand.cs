using System.CommandLine;
using Milter.Filters.Stores;
using MilterHost.Chain;
using MilterHost.Tools.Admin;

namespace MilterHost.Commands;

/// <summary>The frame of the <c>greylist</c> and <c>ban</c> subcommands: open the configured store, run, close it.</summary>
internal static class AdminCommand
{
    /// <summary>
    /// Runs <paramref name="body"/> with the store <c>--config</c> names (exit 1 when it cannot be
    /// opened, or fails meanwhile, with the reason on stderr).
    /// </summary>
    /// <param name="name">The command as typed (<c>greylist list</c>), to prefix messages with.</param>
    public static void SetAction(Command command, Option<string> config, string name, TimeProvider time, FilterCatalog catalog,
        Func<AdminStore, ParseResult, TextWriter, CancellationToken, Task<int>> body)
    {
        command.SetAction(async (parse, cancellationToken) =>
        {
            var error = parse.InvocationConfiguration.Error;
            await using var store = await AdminStore.OpenAsync(parse.GetValue(config)!, name, error, time, catalog, cancellationToken);
            if (store is null)
                return 1;
            try
            {
                return await body(store, parse, parse.InvocationConfiguration.Output, cancellationToken);
            }
            catch (StoreUnavailableException e)
            {
                await error.WriteLineAsync($"{name}: the store failed: {e.Message}");
                return 1;
            }
        });
    }
}
