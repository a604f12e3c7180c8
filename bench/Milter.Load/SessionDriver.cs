using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text;
using Milter.Protocol.Client;
using Milter.Protocol.Commands;
using Milter.Protocol.Replies;

namespace Milter.Load;

/// <summary>
/// Plays one SMTP session to a filter the way sendmail 8.17 does (see tests/testdata/captures): a new
/// milter connection, OPTNEG with sendmail's offer, MACRO C and CONNECT, MACRO H and HELO, then per
/// message MACRO M and MAIL, MACRO R and RCPT per recipient, DATA, ten headers, EOH, a 4 KiB body,
/// MACRO E and EOM. Macros go out for every stage whether or not the filter asked for the stage
/// (sendmail does that), filtered by the filter's SETSYMLIST; stages the filter negotiated away are
/// not sent and replies it declined are not awaited (<see cref="MilterClient"/>). After a final
/// verdict for the message sendmail sends ABORT; when every recipient was refused the SMTP client
/// either says RSET (ABORT) before its next message or QUITs.
/// </summary>
public sealed class SessionDriver
{
    private static readonly IReadOnlyList<string> MailArguments = ["BODY=8BITMIME", "SIZE=4711"];
    private static readonly KeyValuePair<string, string>[] NoMacros = [];
    private static readonly ReadOnlyMemory<byte> Body = MakeBody(4096);

    private readonly EndPoint _target;
    private readonly TimeProvider _time;
    private readonly bool _blocking;
    private readonly Wait _wait;

    /// <param name="blocking">
    /// Blocking sockets, each session played start to end on its caller's thread (<see cref="BlockingConnection"/>),
    /// as each of sendmail's SMTP sessions is its own process; otherwise async sockets.
    /// </param>
    /// <param name="wait">How a blocking connection waits for the filter's answer (<see cref="BlockingConnection"/>).</param>
    public SessionDriver(EndPoint target, TimeProvider time, bool blocking, Wait wait)
    {
        _target = target;
        _time = time;
        _blocking = blocking;
        _wait = wait;
    }

    /// <summary>
    /// Runs the session; <paramref name="done"/> hears of each message (start timestamp, outcome) as it ends.
    /// When <paramref name="steps"/> is given, each reply's arrival is added to it (step name, timestamp).
    /// </summary>
    public async Task RunAsync(SessionPlan plan, Action<long, string> done, CancellationToken cancellationToken, List<(string Step, long At)>? steps = null)
    {
        // With async sockets each session starts on a thread-pool thread, not where the last one ended:
        // socket completions run inline on the epoll threads (Program.cs), and when the filter answers
        // before the generator asks for the answer every receive completes at once, so one connection's
        // sessions could follow each other on one epoll thread for 200 ms while every connection
        // registered with that engine waited.
        if (!_blocking)
            await Task.Yield();
        var start = _time.GetTimestamp();
        MilterClient client;
        try
        {
            client = _blocking ? BlockingConnection.Connect(_target, _wait) : await MilterClient.ConnectAsync(_target, cancellationToken).ConfigureAwait(false);
        }
        catch (SocketException e)
        {
            // ECONNREFUSED, or EAGAIN from a Unix listener whose queue is full (at once on async sockets,
            // after the connect timeout on blocking ones, as sendmail's): sendmail tempfails the message.
            throw new FilterRefusedException($"connect: {e.SocketErrorCode}", e);
        }
        Mark(steps, "accept");
        await using (client.ConfigureAwait(false))
        {
            try
            {
                await client.NegotiateAsync(null, cancellationToken).ConfigureAwait(false);
            }
            catch (Exception e) when (e is EndOfStreamException or IOException or SocketException)
            {
                // Accepted and closed unanswered: a filter at its connection cap does this.
                throw new FilterRefusedException("closed before answering OPTNEG", e);
            }
            Mark(steps, "optneg");
            await client.SendMacrosAsync('C', ConnectMacros(plan), cancellationToken).ConfigureAwait(false);
            var r = await client.ConnectAsync(plan.ClientName, ConnectFamily.Inet, plan.ClientPort, plan.ClientAddress, cancellationToken).ConfigureAwait(false);
            Mark(steps, "connect");
            if (IsFinal(r))
            {
                // sendmail answers the client itself from now on and asks the filter nothing more.
                done(start, Outcome(r, "connect"));
                await client.QuitAsync(cancellationToken).ConfigureAwait(false);
                return;
            }
            await client.SendMacrosAsync('H', NoMacros, cancellationToken).ConfigureAwait(false);
            r = await client.HeloAsync(plan.Helo, cancellationToken).ConfigureAwait(false);
            Mark(steps, "helo");
            if (IsFinal(r))
            {
                done(start, Outcome(r, "helo"));
                await client.QuitAsync(cancellationToken).ConfigureAwait(false);
                return;
            }

            for (var m = 0; m < plan.Messages.Length; m++)
            {
                if (m > 0)
                {
                    if (!_blocking)
                        await Task.Yield();
                    start = _time.GetTimestamp();
                }
                var (outcome, abort) = await MessageAsync(client, plan, plan.Messages[m], steps, cancellationToken).ConfigureAwait(false);
                done(start, outcome);
                var last = m == plan.Messages.Length - 1;
                // After a final verdict sendmail aborts the filter's message itself; after refused
                // recipients the client's RSET does, unless it simply quits.
                if (abort == AbortBy.Mta || (abort == AbortBy.ClientRset && !last))
                    await client.AbortAsync(cancellationToken).ConfigureAwait(false);
            }
            await client.QuitAsync(cancellationToken).ConfigureAwait(false);
        }
    }

    private enum AbortBy { None, Mta, ClientRset }

    /// <summary>A reply has arrived: its step and the time, when the steps are kept.</summary>
    private void Mark(List<(string, long)>? steps, string step) => steps?.Add((step, _time.GetTimestamp()));

    private async Task<(string Outcome, AbortBy Abort)> MessageAsync(MilterClient client, SessionPlan session, MessagePlan message, List<(string, long)>? steps,
        CancellationToken ct)
    {
        await client.SendMacrosAsync('M', MailMacros(message), ct).ConfigureAwait(false);
        var r = await client.MailAsync(message.Sender, MailArguments, ct).ConfigureAwait(false);
        Mark(steps, "mail");
        if (IsFinal(r))
            return Finished(r, "mail");

        var accepted = 0;
        MilterResponse? refusal = null;
        foreach (var recipient in message.Recipients)
        {
            await client.SendMacrosAsync('R', RcptMacros(recipient), ct).ConfigureAwait(false);
            r = await client.RcptAsync(recipient, null, ct).ConfigureAwait(false);
            Mark(steps, "rcpt");
            if (r.Kind == VerdictKind.Accept)
                return (Outcome(r, "rcpt"), AbortBy.None); // the whole message, unfiltered from here
            if (r.Kind == VerdictKind.Continue)
                accepted++;
            else
                refusal = r;
        }
        if (accepted == 0)
            return (Outcome(refusal!, "rcpt"), AbortBy.ClientRset);

        r = await client.DataAsync(ct).ConfigureAwait(false);
        Mark(steps, "data");
        if (IsFinal(r))
            return Finished(r, "data");
        foreach (var (name, value) in Headers(session, message))
        {
            r = await client.HeaderAsync(name, value, ct).ConfigureAwait(false);
            if (IsFinal(r))
                return Finished(r, "header");
        }
        r = await client.EndOfHeadersAsync(ct).ConfigureAwait(false);
        Mark(steps, "eoh");
        if (IsFinal(r))
            return Finished(r, "eoh");
        r = await client.BodyChunksAsync(Body, ct).ConfigureAwait(false);
        if (IsFinal(r) && r.Kind != VerdictKind.Skip)
            return Finished(r, "body");
        await client.SendMacrosAsync('E', [new("{msg_id}", MessageId(message))], ct).ConfigureAwait(false);
        r = await client.EndOfMessageAsync(ct).ConfigureAwait(false);
        Mark(steps, "eom");
        return (Outcome(r, "eom"), AbortBy.None);
    }

    private static (string, AbortBy) Finished(MilterResponse r, string stage) =>
        (Outcome(r, stage), r.Kind == VerdictKind.Accept ? AbortBy.None : AbortBy.Mta);

    private static bool IsFinal(MilterResponse r) => r.Awaited && r.Kind is not (VerdictKind.Continue or VerdictKind.Skip);

    /// <summary>"accept@eom", "tempfail@data", "reject@connect": the verdict that ended the message and where.</summary>
    private static string Outcome(MilterResponse r, string stage)
    {
        var kind = r.Kind switch
        {
            VerdictKind.Continue or VerdictKind.Accept => "accept",
            VerdictKind.Reject => "reject",
            VerdictKind.Tempfail => "tempfail",
            VerdictKind.Discard => "discard",
            _ => r.Kind.ToString().ToLowerInvariant(),
        };
        return kind + "@" + stage;
    }

    private static KeyValuePair<string, string>[] ConnectMacros(SessionPlan plan) =>
    [
        new("j", "mx.example.com"),
        new("_", $"{plan.ClientName} [{plan.ClientAddress}]"),
        new("{daemon_name}", "MTA-v4"),
        new("{if_name}", "mx.example.com"),
        new("{client_addr}", plan.ClientAddress),
        new("{client_name}", plan.ClientName),
        new("{client_port}", plan.ClientPort.ToString(CultureInfo.InvariantCulture)),
    ];

    private static KeyValuePair<string, string>[] MailMacros(MessagePlan message)
    {
        var at = message.Sender.LastIndexOf('@');
        return
        [
            new("i", message.QueueId),
            new("{mail_mailer}", "esmtp"),
            new("{mail_host}", message.Sender[(at + 1)..] + "."),
            new("{mail_addr}", message.Sender),
        ];
    }

    private static KeyValuePair<string, string>[] RcptMacros(string recipient) =>
    [
        new("{rcpt_mailer}", "local"),
        new("{rcpt_host}", ""),
        new("{rcpt_addr}", recipient[..recipient.LastIndexOf('@')]),
    ];

    private static string MessageId(MessagePlan message) => $"<{message.QueueId}.{message.Sender.Length}@{message.Sender[(message.Sender.LastIndexOf('@') + 1)..]}>";

    private static IEnumerable<(string Name, string Value)> Headers(SessionPlan session, MessagePlan message)
    {
        yield return ("Received", $"from {session.Helo} ({session.ClientName} [{session.ClientAddress}])\n\tby mx.example.com (8.17.1.9/8.17.1.9) with ESMTP id {message.QueueId}\n\tfor <{message.Recipients[0]}>; Sat, 28 Nov 2026 20:52:33 +0000");
        yield return ("Date", "Sat, 28 Nov 2026 20:52:33 +0000");
        yield return ("From", $"Sender <{message.Sender}>");
        yield return ("To", string.Join(", ", message.Recipients));
        yield return ("Subject", "quarterly report and minutes of the meeting");
        yield return ("Message-Id", MessageId(message));
        yield return ("MIME-Version", "1.0");
        yield return ("Content-Type", "text/plain; charset=utf-8");
        yield return ("Content-Transfer-Encoding", "8bit");
        yield return ("X-Mailer", "milter-load");
    }

    private static byte[] MakeBody(int size)
    {
        var line = "The quick brown fox jumps over the lazy dog; the lazy dog sleeps on.\r\n"u8;
        var body = new byte[size];
        for (var at = 0; at < size; at += line.Length)
            line[..Math.Min(line.Length, size - at)].CopyTo(body.AsSpan(at));
        body[^2] = (byte)'\r';
        body[^1] = (byte)'\n';
        return body;
    }

    /// <summary>For error messages: what was being sent.</summary>
    public static string Describe(SessionPlan plan) =>
        new StringBuilder().Append(plan.Kind).Append(' ').Append(plan.ClientAddress).Append(' ').Append(plan.Messages[0].Sender).ToString();
}

/// <summary>The filter did not take the connection (refused it, or closed it before answering OPTNEG): sendmail would tempfail the message (F=T).</summary>
public sealed class FilterRefusedException(string message, Exception inner) : Exception(message, inner);
