namespace MilterHost.Configuration;

public sealed record StatusOptions
{
    /// <summary><c>HOST:PORT</c> for the status/metrics HTTP listener.</summary>
    public string Listen { get; init; } = "127.0.0.1:8025";
    public string? Token { get; init; }
}
