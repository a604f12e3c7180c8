using Microsoft.Extensions.Logging;
using Milter.Filters;
using Milter.Filters.Context;
using Milter.Protocol.Replies;

namespace MilterHost.Logging;

/// <summary>
/// Writes every final decision as one line a postmaster can grep, in sendmail's own style:
/// <c>6ASKqX0x009129: decision=reject stage=rcpt client=mail.example.net [203.0.113.9] from=&lt;a@b&gt; to=&lt;c@d&gt; filter=relay rule=relay reply="550 5.7.1 Relaying denied"</c>.
/// A decision before the queue id is known is written <c>NOQUEUE:</c>, as sendmail does.
/// <c>milterhost logscan</c> reads these lines back.
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
            session.QueueId ?? "NOQUEUE",
            verdict.Kind.ToString().ToLowerInvariant(),
            decision.Stage,
            session.ClientDisplay,
            session.Sender is null ? "" : $" from=<{session.Sender}>",
            decision.Recipient is null ? "" : $" to=<{decision.Recipient}>",
            decision.Filter ?? "-",
            decision.Rule ?? "-",
            verdict.Reply is null ? "" : $" reply=\"{verdict.Reply}\"");
    }

    [LoggerMessage(EventId = 5100, Message = "{QueueId}: decision={Verdict} stage={Stage} client={Client}{From}{To} filter={Filter} rule={Rule}{Reply}")]
    private static partial void Write(ILogger logger, LogLevel level, string queueId, string verdict, string stage, string client, string from, string to, string filter, string rule, string reply);
}
