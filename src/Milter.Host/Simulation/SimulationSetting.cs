namespace MilterHost.Simulation;

/// <summary>Where a simulation ran: the config file, the database (without secrets), whether it recorded, and notes for the reader.</summary>
public sealed record SimulationSetting(string ConfigPath, string Database, bool Recorded, IReadOnlyList<string> Notes);
