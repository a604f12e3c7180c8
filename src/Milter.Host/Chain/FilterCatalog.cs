using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Milter.Filters;
using Milter.Filters.Ban;
using Milter.Filters.Dns;
using Milter.Filters.Greylist;
using Milter.Filters.Recipients;
using Milter.Filters.Relay;

namespace MilterHost.Chain;

/// <summary>
/// The filters an executable can build, by name: the built-in ones and whatever its service
/// collection registered with <c>AddMilterFilter</c>. The configuration is checked against it
/// (an unknown name in <c>filters:</c> is an error), and the policy is built from it.
/// </summary>
public sealed class FilterCatalog
{
    private readonly Dictionary<string, MilterFilterRegistration> _byName;

    private FilterCatalog(IEnumerable<MilterFilterRegistration> registrations)
    {
        _byName = new Dictionary<string, MilterFilterRegistration>(StringComparer.Ordinal);
        foreach (var registration in registrations)
        {
            if (!_byName.TryAdd(registration.Name, registration))
                throw new ArgumentException($"two filters are registered as '{registration.Name}'", nameof(registrations));
        }
    }

    /// <summary>The built-in filters alone.</summary>
    public static FilterCatalog BuiltIn { get; } = new(BuiltInFilters());

    /// <summary>The built-in filters and those <paramref name="services"/> registered.</summary>
    public static FilterCatalog From(IServiceCollection services)
    {
        ArgumentNullException.ThrowIfNull(services);
        return new FilterCatalog(BuiltInFilters().Concat(services
            .Where(d => d.ServiceType == typeof(MilterFilterRegistration))
            .Select(d => (MilterFilterRegistration)d.ImplementationInstance!)));
    }

    /// <summary>Every registered name, built-in ones first.</summary>
    public IEnumerable<string> Names => _byName.Keys;

    public MilterFilterRegistration? Find(string name) => _byName.GetValueOrDefault(name);

    internal IEnumerable<MilterFilterRegistration> PlugIns => _byName.Values.Where(r => r.SectionKey is not null);

    private static IEnumerable<MilterFilterRegistration> BuiltInFilters() =>
    [
        MilterFilterRegistration.BuiltIn(FilterNames.Relay, o => o.Relay,
            (c, relay) => relay.Enabled ? new RelayFilter(relay, c.LocalDomains) : null),
        MilterFilterRegistration.BuiltIn(FilterNames.Ban, o => o.Ban,
            (c, rules) => new BanFilter(rules, c.Bans, c.Time, c.LocalDomains)),
        MilterFilterRegistration.BuiltIn(FilterNames.Recipients, o => o.Recipients,
            (c, recipients) => recipients.RejectUnknown
                ? new RecipientFilter(recipients, c.LocalDomains,
                    RecipientDirectory.Load(recipients, c.BaseDirectory, c.Time, c.Loggers.CreateLogger<RecipientDirectory>()))
                : null),
        MilterFilterRegistration.BuiltIn(FilterNames.DnsLists, o => o.DnsLists,
            (c, lists) => lists.Count > 0 ? new DnsListFilter(c.Dns) : null),
        MilterFilterRegistration.BuiltIn(FilterNames.Spf, o => o.Spf,
            (c, spf) => spf.IsOn ? new SpfFilter(spf, c.Dns) : null),
        MilterFilterRegistration.BuiltIn(FilterNames.Greylist, o => o.Greylist,
            (c, greylist) => greylist.Enabled
                ? new GreylistFilter(c.Greylist, greylist, c.TrustedClients, c.Dns, c.Time, c.Loggers.CreateLogger<GreylistFilter>())
                : null),
    ];
}
