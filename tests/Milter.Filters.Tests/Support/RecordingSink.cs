using Milter.Filters;
using Milter.Filters.Context;

namespace Milter.Filters.Tests.Support;

/// <summary>Keeps every decision with what the log line would carry.</summary>
public sealed class RecordingSink : IDecisionSink
{
    private readonly List<Decision> _decisions = [];
    private readonly List<string> _lines = [];

    public IReadOnlyList<Decision> Decisions => _decisions;

    /// <summary>The decisions as the host's log line would render their fields.</summary>
    public IReadOnlyList<string> Lines => _lines;

    public void OnDecision(SessionContext session, Decision decision)
    {
        _decisions.Add(decision);
        _lines.Add($"{session.QueueId ?? "-"} client={session.ClientDisplay} from=<{session.Sender}> to=<{decision.Recipient}> {decision.Verdict} filter={decision.Filter} rule={decision.Rule}");
    }
}
