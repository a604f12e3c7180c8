using Milter.Filters;
using Milter.Filters.Context;
using Milter.Filters.Stats;

namespace MilterHost.Status;

/// <summary>One decision as the status page lists it.</summary>
/// <param name="Mode"><c>enforce</c>, or <c>monitor</c> for a decision a filter in monitor mode did not apply.</param>
internal sealed record RecentDecision(DateTimeOffset At, string Verdict, string Mode, string Stage, string Filter, string Rule, string Client, string Sender, string Recipient);

/// <summary>The last <see cref="Capacity"/> decisions in memory, newest first, for the status page.</summary>
internal sealed class RecentDecisions(TimeProvider time, int capacity = 30)
{
    private readonly Lock _lock = new();
    private readonly Queue<RecentDecision> _items = new();

    public int Capacity => capacity;

    public void Add(SessionContext session, Decision decision) =>
        Add(new RecentDecision(time.GetUtcNow(), DecisionTally.VerdictName(decision.Verdict.Kind), FilterModeNames.Of(decision), decision.Stage, decision.Filter ?? DecisionTally.NoFilter,
            decision.Rule ?? DecisionTally.NoFilter, session.ClientDisplay, SenderOf(session), decision.Recipient ?? string.Join(", ", session.AcceptedRecipients)));

    public void AddAccepted(SessionContext session) =>
        Add(new RecentDecision(time.GetUtcNow(), "accept", FilterModeNames.Enforce, DecisionStage.EndOfMessage, DecisionTally.NoFilter, DecisionTally.NoFilter,
            session.ClientDisplay, SenderOf(session), string.Join(", ", session.AcceptedRecipients)));

    public IReadOnlyList<RecentDecision> Snapshot()
    {
        lock (_lock)
            return [.. _items.Reverse()];
    }

    private void Add(RecentDecision item)
    {
        lock (_lock)
        {
            _items.Enqueue(item);
            while (_items.Count > capacity)
                _items.Dequeue();
        }
    }

    private static string SenderOf(SessionContext session) => session.Sender switch
    {
        null => "",
        "" => "<>",
        var s => s,
    };
}
