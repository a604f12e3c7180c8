using System.Net;
using System.Net.Sockets;

namespace MilterHost.Tools.RelayTest;

/// <summary>
/// The classic ways to make a mail server relay, each aimed at one foreign mailbox. A server that
/// is no open relay refuses every one of them; a server that accepts any of them would forward mail
/// for strangers (directly, or after rewriting the address once it thinks the mail is local).
/// </summary>
public static class RelayTricks
{
    /// <summary>The tricks for one server.</summary>
    /// <param name="foreignSender">The outside sender of most tricks (<c>user@domain</c>).</param>
    /// <param name="foreignRecipient">The outside mailbox every trick tries to reach (<c>user@domain</c>).</param>
    /// <param name="localDomain">A domain the server takes mail for (LOCAL in the tricks).</param>
    /// <param name="hostName">The server's own name from its greeting; null when it gave none.</param>
    /// <param name="serverAddress">The address the probe connected to, for the IP literal tricks.</param>
    public static IReadOnlyList<RelayTrick> Build(string foreignSender, string foreignRecipient, string localDomain, string? hostName, IPAddress serverAddress)
    {
        ArgumentNullException.ThrowIfNull(foreignSender);
        ArgumentNullException.ThrowIfNull(foreignRecipient);
        ArgumentException.ThrowIfNullOrWhiteSpace(localDomain);
        ArgumentNullException.ThrowIfNull(serverAddress);
        var at = foreignRecipient.LastIndexOf('@');
        if (at <= 0 || at == foreignRecipient.Length - 1)
            throw new ArgumentException($"'{foreignRecipient}' is not user@domain", nameof(foreignRecipient));
        var user = foreignRecipient[..at];
        var domain = foreignRecipient[(at + 1)..];
        var literal = IpLiteral(serverAddress);
        var s = foreignSender;

        var tricks = new List<RelayTrick>
        {
            new("foreign sender", s, foreignRecipient),
            new("null sender", "", foreignRecipient),
            new("local sender", "postmaster@" + localDomain, foreignRecipient),
            new("percent hack", s, $"{user}%{domain}@{localDomain}"),
            new("percent hack, unqualified", s, $"{user}%{domain}"),
            new("bang path", s, $"{domain}!{user}@{localDomain}"),
            new("bang path, unqualified", s, $"{domain}!{user}"),
            new("quoted local part", s, $"\"{user}@{domain}\"@{localDomain}"),
            new("double at", s, $"{user}@{domain}@{localDomain}"),
            new("source route", s, $"@{localDomain}:{user}@{domain}"),
        };
        if (hostName is not null && !hostName.Equals(localDomain, StringComparison.OrdinalIgnoreCase))
        {
            tricks.Add(new("percent hack, own name", s, $"{user}%{domain}@{hostName}"));
            tricks.Add(new("source route, own name", s, $"@{hostName}:{user}@{domain}"));
        }
        tricks.AddRange(
        [
            new("percent hack, IP literal", s, $"{user}%{domain}@{literal}"),
            new("double at, IP literal", s, $"{user}@{domain}@{literal}"),
            new("quoted local part, IP literal", s, $"\"{user}@{domain}\"@{literal}"),
            new("bang path, IP literal", s, $"{domain}!{user}@{literal}"),
            new("trailing dot", s, $"{user}@{domain}."),
            new("percent hack, trailing dot", s, $"{user}%{domain}@{localDomain}."),
        ]);
        var firstLabel = domain.Split('.')[0];
        if (firstLabel.Length > 0 && firstLabel.Length < domain.TrimEnd('.').Length)
            tricks.Add(new("unqualified domain", s, $"{user}@{firstLabel}"));
        return tricks;
    }

    /// <summary><c>[192.0.2.1]</c> or <c>[IPv6:2001:db8::1]</c>, as RFC 5321 writes an address in place of a domain.</summary>
    public static string IpLiteral(IPAddress address)
    {
        ArgumentNullException.ThrowIfNull(address);
        if (address.IsIPv4MappedToIPv6)
            address = address.MapToIPv4();
        return address.AddressFamily == AddressFamily.InterNetworkV6 ? $"[IPv6:{address}]" : $"[{address}]";
    }

    /// <summary>
    /// The domain a server named <paramref name="hostName"/> most likely takes mail for: its parent
    /// domain when it has one (<c>mx.example.com</c> is <c>example.com</c>'s), else the name itself.
    /// </summary>
    public static string LocalDomainOf(string hostName)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(hostName);
        var name = hostName.TrimEnd('.');
        var dot = name.IndexOf('.', StringComparison.Ordinal);
        return dot > 0 && name.IndexOf('.', dot + 1) > 0 ? name[(dot + 1)..] : name;
    }
}
