namespace MilterHost.Simulation;

/// <summary>What <c>simulate</c> found: each stage as the MTA saw it, and how the message ends.</summary>
public sealed record SimulationReport(SimulationRequest Request, IReadOnlyList<SimulationStep> Steps, SimulationOutcome Outcome)
{
    /// <summary>The DNS facts the chain used (SPF result, reverse name, DNS list answers), one line each.</summary>
    public IReadOnlyList<string> DnsFacts { get; init; } = [];
}
