using System.Net;
using Milter.Filters.Greylist;

namespace MilterHost.Tools.Admin;

/// <summary>Which part of the greylist <c>list</c> and <c>remove</c> look at.</summary>
internal enum GreylistView
{
    /// <summary>Triplets in both states, auto-whitelist entries and the admin allow list.</summary>
    All,
    /// <summary>Triplets waiting for their retry.</summary>
    Pending,
    /// <summary>Triplets that passed.</summary>
    Passed,
    /// <summary>Auto-whitelisted clients (at least <c>auto_whitelist.after</c> passes) and the admin allow list.</summary>
    Whitelisted,
}

/// <summary>
/// The filters of <c>greylist list</c> and <c>greylist remove</c>: a view and any of client, sender
/// and recipient, every one given having to match. A section that cannot match a filter (the
/// auto-whitelist has no recipients) is left out while that filter is given.
/// </summary>
internal sealed record GreylistSelection
{
    public GreylistView View { get; init; }

    /// <summary>Overlapping subnet keys match (a /32 inside a stored /24, or a /16 around it).</summary>
    public IPNetwork? Client { get; init; }

    /// <summary>An address, <c>@domain</c>, or <c>&lt;&gt;</c> for the null sender.</summary>
    public string? Sender { get; init; }

    public string? Recipient { get; init; }

    /// <summary>Rows per section, most recently seen first.</summary>
    public int Limit { get; init; } = 1000;

    /// <summary>No filter at all.</summary>
    public bool SelectsEverything => View == GreylistView.All && Client is null && Sender is null && Recipient is null;

    public bool IncludesTriplets => View != GreylistView.Whitelisted;

    /// <summary>
    /// The auto-whitelist holds a client network and a sender domain: a recipient, or one sender's
    /// address, does not select its rows (else removing one sender's triplets would end the whole
    /// domain's whitelisting); <c>--sender @domain</c> does.
    /// </summary>
    public bool IncludesAutoWhitelist => View is GreylistView.All or GreylistView.Whitelisted && Recipient is null
        && (Sender is null || Sender.StartsWith('@'));

    public bool IncludesAllowed => IncludesAutoWhitelist;

    /// <summary>What a <c>--sender</c> value means: a bare domain is read as <c>@domain</c>.</summary>
    public static string NormalizeSender(string sender)
    {
        ArgumentNullException.ThrowIfNull(sender);
        var s = sender.Trim();
        return s == "<>" || s.Contains('@', StringComparison.Ordinal) ? s : "@" + s;
    }

    public GreylistQuery TripletQuery() => new()
    {
        State = View switch { GreylistView.Pending => TripletState.Pending, GreylistView.Passed => TripletState.Passed, _ => null },
        Client = Client,
        Sender = Sender,
        Recipient = Recipient,
        Limit = Limit,
    };

    /// <param name="whitelistAfter">The configured <c>auto_whitelist.after</c>.</param>
    public GreylistQuery AutoWhitelistQuery(int whitelistAfter) => new()
    {
        Client = Client,
        Sender = Sender,
        MinPasses = View == GreylistView.Whitelisted ? Math.Max(1, whitelistAfter) : 0,
        Limit = Limit,
    };

    public bool Matches(GreylistAllowEntry entry)
    {
        ArgumentNullException.ThrowIfNull(entry);
        if (entry.Kind == GreylistAllowKind.Network)
        {
            return Sender is null
                && (Client is not { } wanted || (IPNetwork.TryParse(entry.Value, out var network) && NetworkOverlap.Overlaps(network, wanted)));
        }
        return Client is null && (Sender is null || DomainOf(Sender).Equals(entry.Value, StringComparison.OrdinalIgnoreCase));
    }

    private static string DomainOf(string sender)
    {
        var at = sender.LastIndexOf('@');
        return (at < 0 ? "" : sender[(at + 1)..]).Trim().TrimEnd('.', '>');
    }
}
