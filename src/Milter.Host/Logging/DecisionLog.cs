using Microsoft.Extensions.Logging;
using MilterHost.Hosting;
using Milter.Filters;
using Milter.Filters.Context;
using Milter.Protocol.Replies;

namespace MilterHost.Logging;

/// <summary>
/// Writes every final decision as one line a postmaster can grep, in sendmail's own style:
/// <c>6ASKqX0x009129: decision=reject stage=rcpt client=mail.example.net [203.0.113.9] from=&lt;a@b&gt; to=&lt;c@d&gt; filter=relay rule=relay reply="550 5.7.1 Relaying denied"</c>,
/// with <c>auth=USER</c> after the recipient when the session authenticated, and <c>applied=no</c> at the
/// end when a filter in monitor mode made it (what would have happened; the MTA was told to continue).
/// A decision before the queue id is known is written <c>NOQUEUE:</c>, as sendmail does.
/// Every value is written through <see cref="DecisionFields"/>: the client's name, the addresses and the
/// user are the peer's text, and <c>milterhost logscan</c> reads these lines back.
/// </summary>
internal sealed partial class DecisionLog(ILogger logger) : IDecisionSink
{
    public void OnDecision(SessionContext session, Decision decision)
    {
        var verdict = decision.Verdict;
        var level = verdict.Kind is VerdictKind.Accept ? LogLevel.Debug : LogLevel.Information;
        if (!logger.IsEnabled(level))
            return;
        Write(logger, level,
            session.QueueId is { } queueId ? DecisionFields.Value(queueId) : "NOQUEUE",
            Name(verdict.Kind),
            DecisionFields.Value(decision.Stage),
            Client(session),
            session.Sender is null ? "" : Address(" from=", session.Sender),
            decision.Recipient is null ? "" : Address(" to=", decision.Recipient),
            session.AuthenticatedUser is null ? "" : " auth=" + DecisionFields.Value(session.AuthenticatedUser),
            DecisionFields.Value(decision.Filter ?? "-"),
            DecisionFields.Value(decision.Rule ?? "-"),
            verdict.Reply is null ? "" : " reply=" + DecisionFields.Quoted(verdict.Reply.ToString()),
            decision.Applied ? "" : " applied=no");
    }

    private static string Name(VerdictKind kind) => kind switch
    {
        VerdictKind.Continue => "continue",
        VerdictKind.Accept => "accept",
        VerdictKind.Reject => "reject",
        VerdictKind.Tempfail => "tempfail",
        VerdictKind.Discard => "discard",
        VerdictKind.Skip => "skip",
        _ => kind.ToString().ToLowerInvariant(),
    };

    /// <summary><c> key=&lt;address&gt;</c>, made in one string when the address needs no quoting (the usual case).</summary>
    private static string Address(string key, string address) =>
        DecisionFields.IsBare(address) ? string.Concat(key, "<", address, ">") : key + DecisionFields.Value($"<{address}>");

    /// <summary><c>name [address]</c>, <c>[address]</c>, <c>local</c> or <c>unknown</c>; the name quoted when it needs to be.</summary>
    private static string Client(SessionContext session)
    {
        if (session.ClientAddress is not { } address)
            return session.IsLocalSubmission ? "local" : "unknown";
        return string.IsNullOrEmpty(session.ClientName)
            ? $"[{address}]"
            : $"{DecisionFields.Value(session.ClientName, bracketsNeedQuotes: true)} [{address}]";
    }

    [LoggerMessage(EventId = HostEventId.Decision, Message = "{QueueId}: decision={Verdict} stage={Stage} client={Client}{From}{To}{Auth} filter={Filter} rule={Rule}{Reply}{Applied}")]
    private static partial void Write(ILogger logger, LogLevel level, string queueId, string verdict, string stage, string client, string from, string to, string auth, string filter, string rule, string reply, string applied);
}
