using System.Globalization;
using System.Net;
using System.Text;
using Milter.Protocol.Client;
using Milter.Protocol.Commands;
using Milter.Protocol.Replies;

namespace Milter.Soak;

/// <summary>The kinds of SMTP session the soak mixes, and how each one went.</summary>
internal enum Kind { Greylisted, Passing, Banned, RelayDenied, Abandoned }

/// <summary>Plays one SMTP session of a kind as sendmail would, through the real <see cref="MilterClient"/>.</summary>
internal sealed class Traffic(EndPoint endPoint)
{
    private long _serial;

    /// <summary>Runs one session; true when the daemon's answer was the one this kind expects.</summary>
    public async Task<bool> RunAsync(Kind kind, CancellationToken cancellationToken)
    {
        var n = Interlocked.Increment(ref _serial);
        var (client, from, to) = kind switch
        {
            Kind.Greylisted => ("192.0.2.7", $"soak{n}@outside.example", "bob@example.com"),
            Kind.Passing => ("127.0.0.1", "sender@outside.example", "alice@example.com"),
            Kind.Banned => ("192.0.2.66", "spam@outside.example", "alice@example.com"),
            Kind.RelayDenied => ("192.0.2.50", "sender@outside.example", "someone@foreign.example"),
            _ => ("127.0.0.1", "sender@outside.example", "alice@example.com"),
        };
        await using var mta = await MilterClient.ConnectAsync(endPoint, cancellationToken);
        await mta.NegotiateAsync(cancellationToken: cancellationToken);
        await mta.SendMacrosAsync('C', [new("j", "mx.example.com"), new("{client_addr}", client), new("{daemon_name}", "MTA-v4")], cancellationToken);
        var connect = await mta.ConnectAsync($"[{client}]", ConnectFamily.Inet, 40000, client, cancellationToken);
        if (kind == Kind.Banned)
            return connect.Kind == VerdictKind.Reject;
        await mta.HeloAsync("client.example.net", cancellationToken);
        await mta.SendMacrosAsync('M', [new("i", string.Create(CultureInfo.InvariantCulture, $"5ATsoak{n:D6}")), new("{mail_addr}", from)], cancellationToken);
        await mta.MailAsync($"<{from}>", cancellationToken: cancellationToken);
        await mta.SendMacrosAsync('R', [new("{rcpt_addr}", to)], cancellationToken);
        var rcpt = await mta.RcptAsync($"<{to}>", cancellationToken: cancellationToken);
        switch (kind)
        {
            case Kind.Greylisted:
                await mta.QuitAsync(cancellationToken);
                return rcpt.Kind == VerdictKind.Tempfail;
            case Kind.RelayDenied:
                await mta.QuitAsync(cancellationToken);
                return rcpt.Kind == VerdictKind.Reject;
            case Kind.Abandoned:
                return rcpt.Kind == VerdictKind.Continue; // and hang up without QUIT or ABORT
        }
        await mta.DataAsync(cancellationToken);
        await mta.HeaderAsync("From", from, cancellationToken);
        await mta.HeaderAsync("Subject", "soak " + n, cancellationToken);
        await mta.EndOfHeadersAsync(cancellationToken);
        await mta.BodyChunksAsync(Encoding.ASCII.GetBytes("Hello from the soak.\r\n"), cancellationToken);
        var eom = await mta.EndOfMessageAsync(cancellationToken);
        await mta.QuitAsync(cancellationToken);
        return rcpt.Kind == VerdictKind.Continue && eom.Kind is VerdictKind.Continue or VerdictKind.Accept;
    }
}
