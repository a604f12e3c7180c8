using System.Net;

namespace Milter.Protocol.Commands;

// The decoded MTA commands a handler sees. Parsing and writing live in CommandCodec, shared by
// the filter side (MilterSession) and the MTA side (MilterClient).

/// <summary>SMFIC_CONNECT: <c>hostname\0 family [port address\0]</c>.</summary>
public sealed record ConnectCommand(string HostName, ConnectFamily Family, ushort Port, string? Address)
{
    /// <summary>The client address when the family is Inet/Inet6 and the text parses; else null.</summary>
    public IPAddress? IPAddress =>
        Family is ConnectFamily.Inet or ConnectFamily.Inet6 && System.Net.IPAddress.TryParse(StripIPv6Tag(Address), out var ip) ? ip : null;

    // sendmail writes IPv6 clients as "IPv6:2001:db8::1" in some places; accept both.
    private static string? StripIPv6Tag(string? a) =>
        a is not null && a.StartsWith("IPv6:", StringComparison.OrdinalIgnoreCase) ? a[5..] : a;
}

/// <summary>SMFIC_HELO: the HELO/EHLO argument.</summary>
public sealed record HeloCommand(string Name);

/// <summary>SMFIC_MAIL: the sender as written in MAIL FROM (with angle brackets) and ESMTP arguments.</summary>
public sealed record MailCommand(string Sender, IReadOnlyList<string> Arguments)
{
    /// <summary>The address without angle brackets; empty for the null sender <c>&lt;&gt;</c>.</summary>
    public string Address => AngleBrackets.Strip(Sender);
}

/// <summary>SMFIC_RCPT: the recipient as written in RCPT TO (with angle brackets) and ESMTP arguments.</summary>
public sealed record RcptCommand(string Recipient, IReadOnlyList<string> Arguments)
{
    /// <summary>The address without angle brackets.</summary>
    public string Address => AngleBrackets.Strip(Recipient);
}

/// <summary>SMFIC_HEADER: one header; folded lines keep their LF + whitespace.</summary>
public sealed record HeaderCommand(string Name, string Value);

/// <summary>SMFIC_UNKNOWN: an SMTP command line the MTA did not recognise.</summary>
public sealed record UnknownCommand(string Line);

/// <summary>SMFIC_OPTNEG as either side sends it: version, actions, protocol flags, and (filter side) macro lists.</summary>
public sealed record OptionNegotiation(
    uint Version,
    Negotiation.ActionFlags Actions,
    Negotiation.ProtocolFlags Protocol,
    IReadOnlyDictionary<Negotiation.MacroStage, string>? MacroLists = null);

/// <summary>The angle brackets around an envelope address as the MTA passes it.</summary>
public static class AngleBrackets
{
    /// <summary><c>&lt;a@b&gt;</c> → <c>a@b</c>; <c>&lt;&gt;</c> → empty; text without brackets is returned trimmed.</summary>
    public static string Strip(string address)
    {
        var s = address.AsSpan().Trim();
        if (s.Length >= 2 && s[0] == '<' && s[^1] == '>')
            s = s[1..^1];
        return s.Length == address.Length ? address : s.ToString();
    }
}
