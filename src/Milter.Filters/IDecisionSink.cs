using Milter.Filters.Context;

namespace Milter.Filters;

/// <summary>
/// Receives every final decision of a chain, once each: the host writes it as one log line (queue
/// id, client, sender, recipient, verdict, reply, filter, rule); <c>simulate</c> prints it.
/// Called on the session's path, so it must be quick and must not throw.
/// </summary>
public interface IDecisionSink
{
    void OnDecision(SessionContext session, Decision decision);
}
