using System.Net;
using System.Text;
using Milter.Protocol.Client;
using Milter.Protocol.Commands;

namespace EndToEnd.Tests.Daemon;

/// <summary>The answers a daemon gave to one message, stage by stage.</summary>
internal sealed record MessageAnswers(MilterResponse Connect, MilterResponse? Rcpt, MilterResponse? EndOfMessage);

/// <summary>
/// Plays sendmail's side of a milter conversation against the running daemon with the real
/// <see cref="MilterClient"/>: the macros sendmail 8.17 sends, one SMTP session, one message.
/// </summary>
internal static class Mta
{
    /// <summary>How long any one exchange with the daemon may take before a test gives up.</summary>
    public static readonly TimeSpan Bound = TimeSpan.FromSeconds(15);

    /// <summary>Opens a connection and negotiates as sendmail 8.17 does.</summary>
    public static async Task<MilterClient> OpenAsync(EndPoint endPoint, CancellationToken cancellationToken)
    {
        var client = await MilterClient.ConnectAsync(endPoint, cancellationToken);
        try
        {
            await client.NegotiateAsync(cancellationToken: cancellationToken);
            return client;
        }
        catch
        {
            await client.DisposeAsync();
            throw;
        }
    }

    /// <summary>The connect macros and CONNECT for an SMTP client at <paramref name="clientAddress"/>.</summary>
    public static async Task<MilterResponse> ConnectAsync(MilterClient client, string clientAddress, CancellationToken cancellationToken)
    {
        var address = IPAddress.Parse(clientAddress);
        var family = address.AddressFamily == System.Net.Sockets.AddressFamily.InterNetworkV6 ? ConnectFamily.Inet6 : ConnectFamily.Inet;
        await client.SendMacrosAsync('C',
            [
                new("j", "mx.example.com"), new("{daemon_name}", "MTA-v4"), new("{client_addr}", clientAddress),
                new("{client_name}", $"[{clientAddress}]"), new("{client_port}", "40000"),
            ], cancellationToken);
        return await client.ConnectAsync($"[{clientAddress}]", family, 40000, clientAddress, cancellationToken);
    }

    /// <summary>HELO, the envelope with queue id <paramref name="queueId"/>, and one recipient.</summary>
    public static async Task<MilterResponse> EnvelopeAsync(MilterClient client, string queueId, string from, string to, CancellationToken cancellationToken)
    {
        await client.HeloAsync("client.example.net", cancellationToken);
        await client.SendMacrosAsync('M', [new("i", queueId), new("{mail_addr}", from)], cancellationToken);
        await client.MailAsync(from, cancellationToken: cancellationToken);
        await client.SendMacrosAsync('R', [new("{rcpt_addr}", to)], cancellationToken);
        return await client.RcptAsync(to, cancellationToken: cancellationToken);
    }

    /// <summary>DATA, headers, body and end of message; returns the EOM answer.</summary>
    public static async Task<MilterResponse> ContentAsync(MilterClient client, string subject, CancellationToken cancellationToken)
    {
        await client.DataAsync(cancellationToken);
        await client.HeaderAsync("From", "sender@outside.example", cancellationToken);
        await client.HeaderAsync("Subject", subject, cancellationToken);
        await client.EndOfHeadersAsync(cancellationToken);
        await client.BodyChunksAsync(Encoding.ASCII.GetBytes("Hello.\r\n"), cancellationToken);
        return await client.EndOfMessageAsync(cancellationToken);
    }

    /// <summary>One whole SMTP session with one message, stopping where the daemon refuses.</summary>
    public static async Task<MessageAnswers> SendMessageAsync(EndPoint endPoint, string clientAddress = "127.0.0.1",
        string from = "sender@outside.example", string to = "alice@example.com", string queueId = "5ATaaa000001")
    {
        using var cancel = new CancellationTokenSource(Bound);
        await using var client = await OpenAsync(endPoint, cancel.Token);
        var connect = await ConnectAsync(client, clientAddress, cancel.Token);
        if (!IsContinue(connect))
            return new MessageAnswers(connect, null, null);
        var rcpt = await EnvelopeAsync(client, queueId, from, to, cancel.Token);
        if (!IsContinue(rcpt))
            return new MessageAnswers(connect, rcpt, null);
        var eom = await ContentAsync(client, "hello", cancel.Token);
        await client.QuitAsync(cancel.Token);
        return new MessageAnswers(connect, rcpt, eom);
    }

    private static bool IsContinue(MilterResponse response) => response.Kind == Milter.Protocol.Replies.VerdictKind.Continue;
}
