using System.Net;

namespace MilterHost.Simulation;

/// <summary>One made-up SMTP session with one message, as <c>simulate</c> plays it to the chain.</summary>
public sealed record SimulationRequest
{
    public required IPAddress Client { get; init; }

    /// <summary>The client's host name as sendmail would report it; null: unresolved (<c>[203.0.113.9]</c>).</summary>
    public string? ClientName { get; init; }

    /// <summary>The HELO name; null: the client name, else the address literal.</summary>
    public string? Helo { get; init; }

    /// <summary>The envelope sender; empty for the null sender <c>&lt;&gt;</c>.</summary>
    public required string From { get; init; }

    public required IReadOnlyList<string> To { get; init; }

    /// <summary>The Subject header; null: the message has none.</summary>
    public string? Subject { get; init; }

    /// <summary>The SMTP AUTH login (<c>{auth_authen}</c>); null: not authenticated.</summary>
    public string? AuthUser { get; init; }

    /// <summary>What sendmail reports as the client's name: the name, or the bracketed address when it did not resolve.</summary>
    public string ReportedClientName => ClientName ?? AddressLiteral;

    /// <summary><c>[203.0.113.9]</c> or <c>[IPv6:2001:db8::1]</c>, as sendmail writes an unresolved client.</summary>
    public string AddressLiteral => Client.AddressFamily == System.Net.Sockets.AddressFamily.InterNetworkV6 ? $"[IPv6:{Client}]" : $"[{Client}]";

    public string HeloName => Helo ?? ClientName ?? AddressLiteral;
}
