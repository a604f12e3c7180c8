using Microsoft.Extensions.Logging;
using Milter.Filters.Ban;
using Milter.Filters.Configuration;
using Milter.Filters.Recipients;
using Milter.Filters.Relay;

namespace Milter.Filters;

/// <summary>
/// Builds the built-in chain without a host, in the order of <c>filters:</c>
/// (<see cref="FilterNames.Default"/> unless written). The default list is
/// <c>relay, ban, recipients, dns_lists, spf, greylist</c>; since each filter acts only at its own stages,
/// that gives, stage by stage:
/// <list type="table">
/// <item><term>connect</term><description>ban (dynamic ban list, client, client_name)</description></item>
/// <item><term>helo</term><description>ban (helo)</description></item>
/// <item><term>mail</term><description>ban (sender); the greylist slot starts its DNS lookups</description></item>
/// <item><term>rcpt</term><description>relay, ban (recipient), recipients (unknown), then the greylist slot: DNS lists, SPF fail, greylist</description></item>
/// <item><term>data</term><description>greylist (the null sender)</description></item>
/// <item><term>eoh</term><description>ban (subject)</description></item>
/// <item><term>eom</term><description>recipients (discard when nobody known remains)</description></item>
/// </list>
/// Relay comes first in the list only so that, at RCPT, it runs before the recipient bans; it
/// does nothing at any other stage.
/// </summary>
public sealed class FilterChainFactory
{
    private readonly TimeProvider _time;
    private readonly ILoggerFactory _loggerFactory;

    public FilterChainFactory(TimeProvider time, ILoggerFactory loggerFactory)
    {
        ArgumentNullException.ThrowIfNull(time);
        ArgumentNullException.ThrowIfNull(loggerFactory);
        _time = time;
        _loggerFactory = loggerFactory;
    }

    /// <summary>The chain for one configuration; share it across connections until the next reload.</summary>
    /// <exception cref="FormatException">A ban rule does not compile; the message names it.</exception>
    /// <exception cref="ArgumentException"><c>reject_unknown</c> is on but no recipient directory was given.</exception>
    public FilterChain Create(MilterOptions options, FilterChainInputs inputs)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(inputs);
        return new FilterChain(Filters(options, inputs), options.OnError, _loggerFactory.CreateLogger<FilterChain>(), _time, options.Modes());
    }

    /// <summary>The filters in chain order, for <see cref="Create"/> and for inspection.</summary>
    public IReadOnlyList<IMilterFilter> Filters(MilterOptions options, FilterChainInputs inputs)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(inputs);
        var relay = new RelayFilter(options.Relay, inputs.LocalDomains);
        var ban = options.Ban.Count > 0 || inputs.DynamicBans is not null
            ? new BanFilter(options.Ban, inputs.DynamicBans, _time, inputs.LocalDomains)
            : null;
        RecipientFilter? recipients = null;
        if (options.Recipients.RejectUnknown)
        {
            var directory = inputs.Recipients
                ?? throw new ArgumentException("recipients.reject_unknown is on: pass the recipient directory", nameof(inputs));
            recipients = new RecipientFilter(options.Recipients, inputs.LocalDomains, directory);
        }
        return InOrder(options.Filters, options.Relay.Enabled ? relay : null, ban, recipients, inputs.Greylist);
    }

    /// <summary>
    /// <paramref name="relay"/>, <paramref name="ban"/>, <paramref name="recipients"/> and the
    /// greylist slot's filters in the order <paramref name="order"/> (<c>filters:</c>) names them;
    /// a filter it leaves out is off.
    /// </summary>
    public static IReadOnlyList<IMilterFilter> InOrder(IReadOnlyList<string> order, RelayFilter? relay, BanFilter? ban, RecipientFilter? recipients, IReadOnlyList<IMilterFilter> greylist)
    {
        ArgumentNullException.ThrowIfNull(order);
        ArgumentNullException.ThrowIfNull(greylist);
        IEnumerable<IMilterFilter?> all = [relay, ban, recipients, .. greylist];
        var byName = all.OfType<IMilterFilter>().ToDictionary(f => f.Name, StringComparer.Ordinal);
        return [.. order.Select(name => byName.GetValueOrDefault(name)).OfType<IMilterFilter>()];
    }
}
