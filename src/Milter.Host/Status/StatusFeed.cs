using Milter.Filters;
using Milter.Filters.Context;
using Milter.Filters.Stats;

namespace MilterHost.Status;

/// <summary>
/// The decision sink beside the decision log: every final decision, and every message every filter
/// let through, goes to the tally (written in batches), the metrics and the recent list. Quick and
/// never throws, as a sink must.
/// </summary>
internal sealed class StatusFeed(DecisionTally tally, DaemonMetrics metrics, RecentDecisions recent) : IDecisionSink
{
    public DaemonMetrics Metrics => metrics;

    public void OnDecision(SessionContext session, Decision decision)
    {
        tally.OnDecision(session, decision);
        metrics.OnDecision(decision);
        recent.Add(session, decision);
    }

    /// <summary>The end of a message no filter decided on: the MTA accepts it.</summary>
    public void OnAccepted(SessionContext session)
    {
        tally.OnAccepted(session);
        metrics.OnAccepted();
        recent.AddAccepted(session);
    }
}
