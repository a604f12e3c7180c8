using System.Net;

namespace MilterHost.Tools.RelayTest;

/// <summary>What <see cref="RelayProbe"/> probes, from where and as whom.</summary>
public sealed record RelayProbeOptions
{
    public const string DefaultSender = "relay-test@example.net";
    public const string DefaultRecipient = "relay-test@example.org";

    public required RelayTarget Target { get; init; }

    /// <summary>The local address to connect from; null lets the system choose.</summary>
    public IPAddress? Source { get; init; }

    /// <summary>The name given in EHLO.</summary>
    public required string Helo { get; init; }

    /// <summary>The outside sender (<c>user@domain</c>).</summary>
    public string Sender { get; init; } = DefaultSender;

    /// <summary>The outside mailbox every trick tries to reach (<c>user@domain</c>).</summary>
    public string Recipient { get; init; } = DefaultRecipient;

    /// <summary>A domain the server takes mail for; null: learnt from its greeting.</summary>
    public string? LocalDomain { get; init; }

    /// <summary>The bound on the connect, on name resolution, and on each reply.</summary>
    public TimeSpan Timeout { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>Receives every line sent (<c>&gt;&gt;&gt; </c>) and received (<c>&lt;&lt;&lt; </c>), and connection notes (<c>*** </c>).</summary>
    public Action<string>? Transcript { get; init; }
}
