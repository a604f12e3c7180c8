namespace MilterHost.Configuration;

public sealed record LogOptions
{
    public string Level { get; init; } = "info";
    public bool Syslog { get; init; } = true;
    public string? File { get; init; }
}
