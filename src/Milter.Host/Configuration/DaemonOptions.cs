using Milter.Filters.Configuration;

namespace MilterHost.Configuration;

/// <summary>
/// The root of milterhost.yaml: the settings the filters read (<see cref="MilterOptions"/>) and those
/// only the daemon reads: where it listens, as whom, where it logs, its status page.
/// </summary>
public sealed record DaemonOptions : MilterOptions
{
    /// <summary>Where to listen: <c>unix:PATH</c>, <c>inet:PORT@HOST</c>, <c>inet6:PORT@HOST</c>.</summary>
    public string Listen { get; init; } = "unix:/run/milterhost/milter.sock";
    public SocketOptions Socket { get; init; } = new();
    /// <summary>Drop root to this user after binding; null: stay who we are (refused as root unless "root").</summary>
    public string? User { get; init; }
    public LogOptions Log { get; init; } = new();
    public StatusOptions? Status { get; init; }
}
