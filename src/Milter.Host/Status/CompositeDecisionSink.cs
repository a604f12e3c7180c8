using Milter.Filters;
using Milter.Filters.Context;

namespace MilterHost.Status;

/// <summary>Hands each decision to several sinks in order (the decision log, then the status feed).</summary>
internal sealed class CompositeDecisionSink(params IDecisionSink[] sinks) : IDecisionSink
{
    public void OnDecision(SessionContext session, Decision decision)
    {
        foreach (var sink in sinks)
            sink.OnDecision(session, decision);
    }
}
