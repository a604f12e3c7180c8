using System.Net;

namespace Milter.Filters.Greylist;

/// <summary>
/// A filter for the admin commands (<c>milterhost greylist list|remove</c>); every set field must match.
/// Expired rows never match: they are gone as far as greylisting is concerned.
/// </summary>
public sealed record GreylistQuery
{
    /// <summary>Triplets only: pending or passed; null: both.</summary>
    public TripletState? State { get; init; }

    /// <summary>Client network: matches subnet keys that contain it or lie inside it (SPF-keyed entries never match).</summary>
    public IPNetwork? Client { get; init; }

    /// <summary>A sender address (normalised as the triplets are; <c>&lt;&gt;</c> for the null sender) or <c>@domain</c>.</summary>
    public string? Sender { get; init; }

    /// <summary>A recipient address (triplets only).</summary>
    public string? Recipient { get; init; }

    /// <summary>Auto-whitelist entries only: at least this many passes (the configured <c>auto_whitelist.after</c> lists the whitelisted ones).</summary>
    public int MinPasses { get; init; }

    /// <summary>At most this many rows, most recently used first.</summary>
    public int Limit { get; init; } = 1000;
}
