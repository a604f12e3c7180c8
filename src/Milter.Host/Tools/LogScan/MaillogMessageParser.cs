using System.Text.RegularExpressions;
using MilterHost.Logging;

namespace MilterHost.Tools.LogScan;

/// <summary>
/// Recognises the sendmail messages that show abuse, the lines that tie a queue id or pid to its client,
/// and milterhost's own decision lines. Formats are sendmail 8.14-8.18's (<c>ruleset=%s, arg1=%s,
/// relay=%s, reject=%s</c>, <c>AUTH failure (%s): ..., relay=%s</c>, <c>%s did not issue
/// MAIL/EXPN/VRFY/ETRN during connection to %s</c>, ...), where a client is written <c>name [1.2.3.4]</c>,
/// <c>[1.2.3.4]</c> or <c>name [IPv6:2001:db8::1] (may be forged)</c>.
/// </summary>
/// <remarks>
/// <para>Much of a line is the client's own text (addresses, its reverse name, the AUTH user), so every
/// pattern is anchored at both ends with the client where sendmail writes it, and a line that could be
/// read two ways names nobody. A <c>ruleset=</c> line names its client only when it holds one
/// <c>, relay=</c> (sendmail's own: a second one, from an address or a reply, could be either), and
/// for <c>check_relay</c> only with an <c>arg2=</c> equal to the relay's address and a reply free of
/// field names.</para>
/// <para>milterhost's decision line (one per refusal, written by the filter chain with
/// <see cref="DecisionFields"/>' escaping):
/// <c>milterhost[PID]: QID: decision=reject client=NAME [IP] from=&lt;S&gt; to=&lt;R&gt; [auth=U] filter=F rule=R reply="550 5.7.1 ..."</c>.
/// Keys may come in any order; <c>client=</c> may also be <c>[IP]</c> or a bare IP; the queue id may be
/// missing or <c>NOQUEUE</c> before MAIL. reject and discard count; tempfail (greylisting) and accept do
/// not, nor does a line with <c>applied=no</c> (a filter in monitor mode: nobody was refused); a line
/// with <c>auth=</c> is an authenticated session's, never abuse.</para>
/// </remarks>
internal static partial class MaillogMessageParser
{
    // A client as sendmail's CurSmtpClient and relay= write it.
    private const string Client = @"(?:(?<name>[^\s\[\],=]+) )?\[(?<addr>[^\]\s]+)\](?<forged> \(may be forged\))?";

    public static MaillogMessage Parse(string program, string message)
    {
        string? queueId = null;
        var body = message;
        var qid = QueueIdPrefix().Match(message);
        if (qid.Success)
        {
            if (qid.Groups["qid"].Value != "NOQUEUE")
                queueId = qid.Groups["qid"].Value;
            body = message[qid.Length..];
        }

        if (program.StartsWith("milterhost", StringComparison.OrdinalIgnoreCase))
            return ParseDecision(queueId, body);

        // Most lines of a busy log are deliveries; they are skipped before any pattern runs.
        if (body.StartsWith("to=", StringComparison.Ordinal) || body.StartsWith("STARTTLS", StringComparison.Ordinal))
            return MaillogMessage.Other;
        if (body.StartsWith("ruleset=", StringComparison.Ordinal))
            return ParseRuleset(queueId, body);
        if (body.StartsWith("Milter: ", StringComparison.Ordinal) || body.StartsWith("milter=", StringComparison.Ordinal))
            return ParseMilter(queueId, body);
        if (body.StartsWith("from=", StringComparison.Ordinal))
            return ParseEnvelope(queueId, body);
        if (body.StartsWith("connect from ", StringComparison.Ordinal))
        {
            var client = ClientOf(ConnectFrom().Match(body));
            return client is null ? MaillogMessage.Other : new MaillogMessage(LineRole.Connect, queueId, Client: client);
        }
        if (body.StartsWith("AUTH failure (", StringComparison.Ordinal))
        {
            // The user name before relay= is the peer's own text: sendmail's relay= ends the line.
            return Event(queueId, EventKind.AuthFailure, ClientOf(AuthFailureRelay().Match(body)));
        }
        if (body.StartsWith("AUTH=server, ", StringComparison.Ordinal))
        {
            var client = ClientOf(AuthServer().Match(body));
            return client is null ? MaillogMessage.Other : new MaillogMessage(LineRole.AuthSession, queueId, Client: client);
        }

        if (Try(NoMailCommand(), EventKind.NoMailCommand, out var found)
            || Try(LostInput(), EventKind.LostInput, out found)
            || Try(PreGreeting(), EventKind.PreGreeting, out found)
            || Try(SmtpAttack(), EventKind.SmtpAttack, out found))
            return found;
        if (body.Contains("SYNFLOOD", StringComparison.OrdinalIgnoreCase))
        {
            // Written when the peer vanished before sendmail could ask its address: often no client at all,
            // and then no guessing from whatever else the line holds.
            return Event(queueId, EventKind.SynFlood, ClientOf(SynFlood().Match(body)));
        }
        if (StandaloneUserUnknown().IsMatch(body))
            return Event(queueId, EventKind.UserUnknown, null);
        return MaillogMessage.Other;

        bool Try(Regex pattern, EventKind kind, out MaillogMessage parsed)
        {
            var match = pattern.Match(body);
            parsed = match.Success ? Event(queueId, kind, ClientOf(match)) : default;
            return match.Success;
        }
    }

    private static MaillogMessage ParseRuleset(string? queueId, string body)
    {
        var head = RulesetHead().Match(body);
        if (!head.Success)
            return MaillogMessage.Other;
        var at = body.IndexOf(RelayField, head.Length, StringComparison.Ordinal);
        if (at < 0)
            return MaillogMessage.Other;
        var tail = RulesetTail().Match(body, at);
        // The arguments and the reply are the client's text, and sendmail writes them as they are: a
        // second ", relay=" could be where sendmail's is or a copy of it, and no reading of the line
        // tells which (an argument can be made to look like any split, and a reply need not repeat
        // it). Only a line with one ", relay=" names its client.
        if (body.IndexOf(RelayField, at + 1, StringComparison.Ordinal) >= 0)
            return new MaillogMessage(LineRole.Ambiguous, queueId);
        if (!tail.Success)
            return MaillogMessage.Other;
        if (head.Groups["set"].ValueSpan.SequenceEqual("check_relay") && !IsRelayCheckSplit(body.AsSpan(head.Length, at - head.Length), tail))
            return new MaillogMessage(LineRole.Ambiguous, queueId);
        var kind = Classify(tail.Groups["text"].Value, tail.Groups["code"].ValueSpan[0] == '5' ? EventKind.Reject5xx : EventKind.Reject4xx);
        return Event(queueId, kind, ClientOf(tail));
    }

    private const string RelayField = ", relay=";

    /// <summary>check_relay: <c>arg1=NAME, arg2=ADDRESS</c> with the relay's address, and a reply that is only sendmail's text.</summary>
    private static bool IsRelayCheckSplit(ReadOnlySpan<char> args, Match tail)
    {
        var parts = RelayCheckArguments().Match(args.ToString());
        if (!parts.Success || ClientAddress.ParseAddress(parts.Groups["addr"].ValueSpan) is not { } address
            || ClientAddress.FromMatch(tail) is not { } client || !address.Equals(client.Address))
            return false;
        var text = tail.Groups["text"].ValueSpan;
        return !text.Contains(RelayField, StringComparison.Ordinal) && !text.Contains(", arg2=", StringComparison.Ordinal)
            && !text.Contains(", reject=", StringComparison.Ordinal);
    }

    private static MaillogMessage ParseMilter(string? queueId, string body)
    {
        var connect = MilterConnectReject().Match(body);
        if (connect.Success)
        {
            var address = ClientAddress.ParseAddress(connect.Groups["addr"].ValueSpan);
            var name = connect.Groups["name"].Value;
            return address is null ? MaillogMessage.Other
                : Event(queueId, EventKind.MilterReject, new ClientAddress(address, name.Length == 0 ? null : name, false));
        }
        var match = MilterReject().Match(body);
        // A milter's 4xx is mostly greylisting, which every honest first-time sender gets: not abuse.
        if (!match.Success || match.Groups["code"].ValueSpan[0] != '5')
            return MaillogMessage.Other;
        var fingerprint = match.Groups["field"].Success
            ? Fingerprint(match.Groups["field"].Value, match.Groups["value"].Value) : null;
        return Event(queueId, Classify(match.Groups["text"].Value, EventKind.MilterReject), null) with { Fingerprint = fingerprint };
    }

    private static MaillogMessage ParseEnvelope(string? queueId, string body)
    {
        if (queueId is null)
            return MaillogMessage.Other;
        // relay= is the last field sendmail writes here; earlier ones (msgid=) are the sender's text.
        var at = body.LastIndexOf(", relay=", StringComparison.Ordinal);
        if (at < 0)
            return MaillogMessage.Other;
        var client = ClientOf(EnvelopeRelay().Match(body, at + 2));
        return client is null
            ? new MaillogMessage(LineRole.Envelope, queueId, LocalSubmission: true)
            : new MaillogMessage(LineRole.Envelope, queueId, Client: client);
    }

    private static MaillogMessage ParseDecision(string? queueId, string body)
    {
        if (!DecisionFields.TryRead(body, out var fields) || !fields.TryGetValue("decision", out var verdict)
            || !fields.TryGetValue("client", out var clientText))
            return MaillogMessage.Other;
        if (!verdict.Equals("reject", StringComparison.OrdinalIgnoreCase) && !verdict.Equals("discard", StringComparison.OrdinalIgnoreCase))
            return MaillogMessage.Other;
        // A filter in monitor mode only says what it would have done: the sender was not refused.
        if (fields.TryGetValue("applied", out var applied) && applied.Equals("no", StringComparison.OrdinalIgnoreCase))
            return MaillogMessage.Other;
        var kind = fields.TryGetValue("filter", out var filter) ? filter.ToLowerInvariant() switch
        {
            "relay" => EventKind.RelayDenied,
            "recipients" or "recipient" => EventKind.UserUnknown,
            _ => EventKind.MilterReject,
        } : EventKind.MilterReject;
        if (kind == EventKind.MilterReject && fields.TryGetValue("reply", out var reply))
            kind = Classify(reply, kind);
        // The recipient names a RCPT-stage refusal; the sender one at MAIL.
        var fingerprint = fields.TryGetValue("to", out var to) ? Fingerprint("to", to)
            : fields.TryGetValue("from", out var from) ? Fingerprint("from", from) : null;
        ClientAddress? client = null;
        var addressText = clientText.StartsWith('[') && clientText.EndsWith(']') ? clientText.AsSpan(1, clientText.Length - 2) : clientText;
        if (ClientAddress.ParseAddress(addressText) is { } address)
        {
            var name = fields.GetValueOrDefault("client_name");
            client = new ClientAddress(address, string.IsNullOrEmpty(name) ? null : name, false);
        }
        return new MaillogMessage(LineRole.Event, queueId, kind, client,
            Source: EventSource.MilterHost, Fingerprint: fingerprint, Authenticated: fields.ContainsKey("auth"));
    }

    private static EventKind Classify(string text, EventKind otherwise) =>
        text.Contains("Relaying denied", StringComparison.OrdinalIgnoreCase) ? EventKind.RelayDenied
        : text.Contains("User unknown", StringComparison.OrdinalIgnoreCase) ? EventKind.UserUnknown
        : otherwise;

    private static string Fingerprint(string field, string address) =>
        field + ":" + (address.StartsWith('<') && address.EndsWith('>') && address.Length >= 2 ? address[1..^1] : address).ToLowerInvariant();

    private static MaillogMessage Event(string? queueId, EventKind kind, ClientAddress? client) =>
        new(LineRole.Event, queueId, kind, client);

    private static ClientAddress? ClientOf(Match? match) =>
        match is { Success: true } ? ClientAddress.FromMatch(match) : null;

    // sendmail queue ids are 14 characters (more with pids over 6 digits); NOQUEUE before one exists.
    [GeneratedRegex(@"^(?<qid>[0-9A-Za-z]{10,20}|NOQUEUE): ")]
    private static partial Regex QueueIdPrefix();

    [GeneratedRegex(@"^ruleset=(?<set>check_(?:mail|rcpt|relay|etrn|expn|vrfy)), arg1=")]
    private static partial Regex RulesetHead();

    // One candidate split, at one ", relay=": the client, then the reply to the end of the line.
    [GeneratedRegex(@"\G, relay=" + Client + @", reject=(?<code>[45]\d\d)(?<text>(?: .*)?)$")]
    private static partial Regex RulesetTail();

    [GeneratedRegex(@"^[^\s,]+, arg2=(?<addr>[^\s,]+)$")]
    private static partial Regex RelayCheckArguments();

    [GeneratedRegex(@"^(?:Milter: (?:(?<field>to|from)=(?<value><[^>]*>|[^,\s]*)|helo=[^,]*|data|cmd=\w+)|milter=[^,]*(?:, action=[^,]*)?), reject=(?<code>\d{3})(?<text>.*)$")]
    private static partial Regex MilterReject();

    [GeneratedRegex(@"^Milter: connect: host=(?<name>[^,\s]*), addr=(?<addr>[^,\s]+), rejecting commands$")]
    private static partial Regex MilterConnectReject();

    [GeneratedRegex(@"\Grelay=" + Client + @"(?:,|\s*$)")]
    private static partial Regex EnvelopeRelay();

    [GeneratedRegex(@", relay=" + Client + @"$")]
    private static partial Regex AuthFailureRelay();

    [GeneratedRegex(@"^AUTH=server, relay=" + Client + @", authid=")]
    private static partial Regex AuthServer();

    [GeneratedRegex(@"^connect from " + Client + @"$")]
    private static partial Regex ConnectFrom();

    [GeneratedRegex(@"^" + Client + @" did not issue MAIL/EXPN/VRFY/ETRN during connection to \S+$")]
    private static partial Regex NoMailCommand();

    [GeneratedRegex(@"^lost input channel from " + Client + @" to \S+ after \S+$")]
    private static partial Regex LostInput();

    // The name is empty when the client has no reverse name: "from  [192.0.2.1] due to".
    [GeneratedRegex(@"^rejecting commands from (?<name>[^\s\[\]]*) \[(?<addr>[^\]\s]+)\] due to pre-greeting traffic after \d+ seconds$")]
    private static partial Regex PreGreeting();

    [GeneratedRegex(@"^" + Client + @": possible SMTP attack: command=\w+, count=\d+$")]
    private static partial Regex SmtpAttack();

    [GeneratedRegex(@"^Possible SYNFLOOD attack from " + Client + @"$")]
    private static partial Regex SynFlood();

    [GeneratedRegex(@"^<[^>]*>\.\.\. User unknown")]
    private static partial Regex StandaloneUserUnknown();
}
