namespace MilterHost.Simulation;

/// <summary>What <c>simulate</c> found: each stage as the MTA saw it, and how the message ends.</summary>
public sealed record SimulationReport(SimulationRequest Request, IReadOnlyList<SimulationStep> Steps, SimulationOutcome Outcome);
