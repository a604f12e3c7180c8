using Milter.Filters.Greylist;
using MilterHost.Configuration;

namespace MilterHost.Tools.Admin;

/// <summary>What <c>greylist allow</c> and <c>greylist remove</c> name: a client network or a sender domain.</summary>
internal static class AllowTarget
{
    /// <summary>
    /// <c>192.0.2.7</c>, <c>192.0.2.0/24</c> and <c>2001:db8::/32</c> are client networks;
    /// <c>partner.example</c> (or <c>@partner.example</c>) is a sender domain.
    /// </summary>
    public static bool TryParse(string text, string reason, DateTimeOffset now, DateTimeOffset? expires, out GreylistAllowEntry entry, out string? error)
    {
        ArgumentNullException.ThrowIfNull(text);
        entry = null!;
        var trimmed = text.Trim();
        if (NetworkSyntax.TryParse(trimmed, out var network, out _))
        {
            entry = GreylistAllowEntry.ForNetwork(network, reason, now, expires);
            error = null;
            return true;
        }
        var domain = trimmed.TrimStart('@');
        if (domain.Length > 0 && !trimmed.Contains('/', StringComparison.Ordinal) && HostNames.IsValid(domain) && domain.Contains('.', StringComparison.Ordinal))
        {
            entry = GreylistAllowEntry.ForSenderDomain(domain, reason, now, expires);
            error = null;
            return true;
        }
        error = $"'{text}' is neither an IP address or CIDR network (192.0.2.0/24) nor a sender domain (partner.example)";
        return false;
    }

    public static string Describe(GreylistAllowKind kind) => kind == GreylistAllowKind.Network ? "client network" : "sender domain";
}
