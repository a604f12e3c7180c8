using System.Net;
using Microsoft.Extensions.Logging;
using Milter.Filters.Dns;
using Milter.Filters.Greylist;
using Milter.Filters.Relay;
using Milter.Filters.Stores;

namespace MilterHost.Chain;

/// <summary>
/// What a filter's factory may use besides its own section, for one configuration generation: the
/// host's services, and the values several filters share, computed once (the local domains, the
/// trusted clients, the stores, the message's DNS lookups). <c>simulate</c> passes read-only stores.
/// </summary>
public sealed class FilterBuildContext
{
    /// <summary>The host's services (what the executable registered); an empty provider in <c>simulate</c> and tests.</summary>
    public required IServiceProvider Services { get; init; }

    /// <summary>The configuration file's folder: relative paths in a section are resolved against it.</summary>
    public required string BaseDirectory { get; init; }

    /// <summary><c>local_domains</c>, with their <c>file:</c> entries read.</summary>
    public required LocalDomains LocalDomains { get; init; }

    /// <summary>Clients trusted as ours (<c>relay.allow_clients</c>): never greylisted, never checked against DNS lists.</summary>
    public required IReadOnlyList<IPNetwork> TrustedClients { get; init; }

    public required IGreylistCheck Greylist { get; init; }

    public required IDynamicBanStore Bans { get; init; }

    /// <summary>The message's DNS lookups, shared by the DNS lists and the greylist.</summary>
    public required DnsChecks Dns { get; init; }

    public required TimeProvider Time { get; init; }

    public required ILoggerFactory Loggers { get; init; }
}
