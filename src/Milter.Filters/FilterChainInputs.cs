using Milter.Filters.Recipients;
using Milter.Filters.Relay;
using Milter.Filters.Stores;

namespace Milter.Filters;

/// <summary>What the host resolves before the chain can be built: files read, stores opened, the greylist made.</summary>
public sealed record FilterChainInputs
{
    /// <summary><c>local_domains</c> with its <c>file:</c> entries read (<see cref="LocalDomains.Load"/>).</summary>
    public required LocalDomains LocalDomains { get; init; }

    /// <summary>The dynamic ban list checked at CONNECT; null: none.</summary>
    public IDynamicBanStore? DynamicBans { get; init; }

    /// <summary>The recipient sources (<see cref="RecipientDirectory.Load"/>); required when <c>recipients.reject_unknown</c>.</summary>
    public RecipientDirectory? Recipients { get; init; }

    /// <summary>
    /// The greylist and the DNS lists that feed it, in the order they should run; they come last
    /// at every stage, after ban, relay and recipients.
    /// </summary>
    public IReadOnlyList<IMilterFilter> Greylist { get; init; } = [];
}
