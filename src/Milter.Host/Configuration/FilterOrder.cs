using Milter.Filters;
using Milter.Filters.Configuration;
using MilterHost.Chain;

namespace MilterHost.Configuration;

/// <summary>
/// Checks <c>filters:</c> against the filters the executable can build: every name registered and
/// written once; relay control left out only when <c>relay: { enabled: false }</c> says so (and
/// then with a warning); the DNS lists before the greylist, which reads their answers.
/// </summary>
internal static class FilterOrder
{
    /// <param name="relayValid">No error elsewhere in the file: relay: was read as written, so its <c>enabled</c> can be judged.</param>
    public static void Check(Binder binder, YMapping? root, MilterOptions options, FilterCatalog catalog, List<ConfigError> warnings, bool relayValid = true)
    {
        var key = root?.KeyNamed("filters");
        var items = root?.Entries.FirstOrDefault(e => e.Key.Value == "filters").Value as YSequence;
        YNode At(int index) => items is not null && index < items.Items.Count ? items.Items[index] : key ?? (YNode?)root ?? new YScalar(1, 1, "", YamlDotNet.Core.ScalarStyle.Plain, false);

        var order = options.Filters;
        for (var i = 0; i < order.Count; i++)
        {
            if (catalog.Find(order[i]) is null)
            {
                var hint = Suggest.Closest(order[i], catalog.Names) is { } s ? $" (did you mean '{s}'?)" : "";
                binder.Error(At(i), $"filters: no filter is named '{order[i]}'{hint}; this milterhost knows {string.Join(", ", catalog.Names)}");
            }
            var first = IndexOf(order, order[i]);
            if (first < i)
                binder.Error(At(i), $"filters: '{order[i]}' is listed twice (first as entry {first + 1})");
        }

        var dnsLists = IndexOf(order, FilterNames.DnsLists);
        var greylist = IndexOf(order, FilterNames.Greylist);
        if (dnsLists >= 0 && greylist >= 0 && dnsLists > greylist)
            binder.Error(At(dnsLists), "filters: dns_lists must come before greylist, which reads their answers");
        // What follows reads the relay section, whose own errors (reported already) would leave it at its defaults.
        if (!relayValid)
            return;

        var relayNode = root?.KeyNamed("relay");
        if (IndexOf(order, FilterNames.Relay) < 0 && options.Relay.Enabled)
            binder.Error(key ?? At(0), "filters: relay is left out; to run without relay control write relay: { enabled: false }");
        else if (!options.Relay.Enabled)
        {
            var at = relayNode ?? key ?? At(0);
            warnings.Add(new ConfigError(binder.File, at.Line, at.Column,
                "warning: relay control is off (relay.enabled: false): any client may send mail through this server to any domain"));
        }
    }

    private static int IndexOf(IReadOnlyList<string> order, string name)
    {
        for (var i = 0; i < order.Count; i++)
        {
            if (order[i] == name)
                return i;
        }
        return -1;
    }
}
