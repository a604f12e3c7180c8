using System.Net;
using MilterHost.Configuration;

namespace MilterHost.Tools.RelayTest;

/// <summary>The server to probe: <c>HOST</c>, <c>HOST:PORT</c>, <c>[IPv6]:PORT</c> or a bare IPv6 address; port 25 by default.</summary>
public sealed record RelayTarget(string Host, int Port)
{
    public const int SmtpPort = 25;

    public static bool TryParse(string text, out RelayTarget target, out string? error)
    {
        ArgumentNullException.ThrowIfNull(text);
        target = new RelayTarget("", SmtpPort);
        var trimmed = text.Trim();
        if (!NetworkSyntax.TryParseHostPort(trimmed, portOptional: true, allowNames: true, out var host, out var port))
        {
            error = $"'{text}' is not HOST, HOST:PORT or [IPv6]:PORT";
            return false;
        }
        target = new RelayTarget(host.TrimEnd('.'), port ?? SmtpPort);
        error = null;
        return true;
    }

    /// <summary>The host when it is an address literal, else null (a name to resolve).</summary>
    public IPAddress? Address => NetworkSyntax.TryParseAddress(Host, out var address) ? address : null;

    public override string ToString() => Host.Contains(':', StringComparison.Ordinal) ? $"[{Host}]:{Port}" : $"{Host}:{Port}";
}
