using System.Text.RegularExpressions;

namespace MilterHost.Tools.LogScan;

/// <summary>
/// Recognises the sendmail messages that show abuse, the lines that tie a queue id or pid to its client,
/// and milterhost's own decision lines. Formats are sendmail 8.14-8.18's (<c>ruleset=%s, arg1=%s,
/// relay=%s, reject=%s</c>, <c>AUTH failure (%s): ..., relay=%s</c>, <c>%s did not issue
/// MAIL/EXPN/VRFY/ETRN during connection to %s</c>, ...), where a client is written <c>name [1.2.3.4]</c>,
/// <c>[1.2.3.4]</c> or <c>name [IPv6:2001:db8::1] (may be forged)</c>.
/// </summary>
/// <remarks>
/// milterhost's decision line (one per refusal, written by the filter chain):
/// <c>milterhost[PID]: QID: decision=reject client=NAME [IP] from=&lt;S&gt; to=&lt;R&gt; filter=F rule=R reply="550 5.7.1 ..."</c>.
/// Keys may come in any order; <c>client=</c> may also be <c>[IP]</c> or a bare IP; the queue id may be
/// missing or <c>NOQUEUE</c> before MAIL. reject and discard count; tempfail (greylisting) and accept do not.
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
            // The user name before relay= is the peer's own text: only the last relay= is sendmail's.
            Match? last = null;
            foreach (Match m in RelayClient().Matches(body))
                last = m;
            return Event(queueId, EventKind.AuthFailure, ClientOf(last));
        }

        if (Try(NoMailCommand(), EventKind.NoMailCommand, out var found)
            || Try(LostInput(), EventKind.LostInput, out found)
            || Try(PreGreeting(), EventKind.PreGreeting, out found)
            || Try(SmtpAttack(), EventKind.SmtpAttack, out found))
            return found;
        if (body.Contains("SYNFLOOD", StringComparison.OrdinalIgnoreCase))
        {
            // Written when the peer vanished before sendmail could ask its address: often no client at all.
            return Event(queueId, EventKind.SynFlood, ClientOf(AnyClient().Match(body)));
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
        var match = RulesetReject().Match(body);
        if (!match.Success)
            return MaillogMessage.Other;
        var kind = Classify(match.Groups["text"].Value, match.Groups["code"].ValueSpan[0] == '5'
            ? EventKind.Reject5xx : EventKind.Reject4xx);
        return Event(queueId, kind, ClientOf(match));
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
        var decision = DecisionKey().Match(body);
        if (!decision.Success)
            return MaillogMessage.Other;
        var verdict = decision.Groups["value"].Value;
        if (!verdict.Equals("reject", StringComparison.OrdinalIgnoreCase) && !verdict.Equals("discard", StringComparison.OrdinalIgnoreCase))
            return MaillogMessage.Other;
        var filter = FilterKey().Match(body);
        var kind = filter.Success ? filter.Groups["value"].Value.ToLowerInvariant() switch
        {
            "relay" => EventKind.RelayDenied,
            "recipients" or "recipient" => EventKind.UserUnknown,
            _ => EventKind.MilterReject,
        } : EventKind.MilterReject;
        if (kind == EventKind.MilterReject)
        {
            var reply = ReplyKey().Match(body);
            if (reply.Success)
                kind = Classify(reply.Groups["value"].Value, kind);
        }
        string? fingerprint = null;
        foreach (Match key in AddressKey().Matches(body))
        {
            // The recipient names a RCPT-stage refusal; the sender one at MAIL.
            if (key.Groups["field"].Value == "to" || fingerprint is null)
                fingerprint = Fingerprint(key.Groups["field"].Value, key.Groups["value"].Value);
        }
        return new MaillogMessage(LineRole.Event, queueId, kind, ClientOf(DecisionClient().Match(body)),
            Source: EventSource.MilterHost, Fingerprint: fingerprint);
    }

    private static EventKind Classify(string text, EventKind otherwise) =>
        text.Contains("Relaying denied", StringComparison.OrdinalIgnoreCase) ? EventKind.RelayDenied
        : text.Contains("User unknown", StringComparison.OrdinalIgnoreCase) ? EventKind.UserUnknown
        : otherwise;

    private static string Fingerprint(string field, string address) =>
        field + ":" + address.Trim('<', '>').ToLowerInvariant();

    private static MaillogMessage Event(string? queueId, EventKind kind, ClientAddress? client) =>
        new(LineRole.Event, queueId, kind, client);

    private static ClientAddress? ClientOf(Match? match) =>
        match is { Success: true } ? ClientAddress.FromMatch(match) : null;

    // sendmail queue ids are 14 characters (more with pids over 6 digits); NOQUEUE before one exists.
    [GeneratedRegex(@"^(?<qid>[0-9A-Za-z]{10,20}|NOQUEUE): ")]
    private static partial Regex QueueIdPrefix();

    [GeneratedRegex(@"^ruleset=check_(?:mail|rcpt|relay|etrn|expn|vrfy), arg1=.*?, relay=" + Client + @", reject=(?<code>[45]\d\d)\b(?<text>.*)$")]
    private static partial Regex RulesetReject();

    [GeneratedRegex(@"^(?:Milter: (?:(?<field>to|from)=(?<value><[^>]*>|[^,\s]*)|helo=[^,]*|data|cmd=\w+)|milter=[^,]*(?:, action=[^,]*)?), reject=(?<code>\d{3})(?<text>.*)$")]
    private static partial Regex MilterReject();

    [GeneratedRegex(@"^Milter: connect: host=(?<name>[^,]*), addr=(?<addr>[^,\s]+), rejecting commands")]
    private static partial Regex MilterConnectReject();

    [GeneratedRegex(@"\Grelay=" + Client + @"(?:,|\s*$)")]
    private static partial Regex EnvelopeRelay();

    [GeneratedRegex(@"relay=" + Client)]
    private static partial Regex RelayClient();

    [GeneratedRegex(@"^connect from " + Client)]
    private static partial Regex ConnectFrom();

    [GeneratedRegex(@"^" + Client + @" did not issue MAIL/EXPN/VRFY/ETRN during connection to ")]
    private static partial Regex NoMailCommand();

    [GeneratedRegex(@"^lost input channel from " + Client + @" to \S+ after ")]
    private static partial Regex LostInput();

    // The name is empty when the client has no reverse name: "from  [192.0.2.1] due to".
    [GeneratedRegex(@"^rejecting commands from (?<name>[^\s\[\]]*) \[(?<addr>[^\]\s]+)\] due to pre-greeting traffic")]
    private static partial Regex PreGreeting();

    [GeneratedRegex(@"^" + Client + @": possible SMTP attack: command=")]
    private static partial Regex SmtpAttack();

    [GeneratedRegex(@"\[(?<addr>[^\]\s]+)\]")]
    private static partial Regex AnyClient();

    [GeneratedRegex(@"^<[^>]*>\.\.\. User unknown")]
    private static partial Regex StandaloneUserUnknown();

    [GeneratedRegex(@"(?:^|\s)decision=(?<value>\w+)")]
    private static partial Regex DecisionKey();

    [GeneratedRegex(@"(?:^|\s)filter=(?<value>[^\s""]+)")]
    private static partial Regex FilterKey();

    [GeneratedRegex(@"(?:^|\s)reply=""(?<value>(?:[^""\\]|\\.)*)""")]
    private static partial Regex ReplyKey();

    [GeneratedRegex(@"(?:^|\s)(?<field>to|from)=(?<value><[^>]*>|[^\s<>""]+)")]
    private static partial Regex AddressKey();

    [GeneratedRegex(@"(?:^|\s)client=(?:(?<name>[^\s\[\]=""]+) \[(?<addr>[^\]\s]+)\]|\[(?<addr>[^\]\s]+)\]|(?<addr>[0-9A-Fa-f:.]+)(?=\s|$))")]
    private static partial Regex DecisionClient();
}
