using Milter.Filters;
using Milter.Filters.Context;

namespace MilterHost.Simulation;

/// <summary>
/// For a chain built only to be looked at (<c>simulate</c> prints its decisions from the simulation
/// itself; <c>check-config</c> builds one to read the files it names): nothing hears its decisions.
/// </summary>
internal sealed class NoDecisions : IDecisionSink
{
    public static readonly NoDecisions Instance = new();

    public void OnDecision(SessionContext session, Decision decision) { }
}
