using Milter.Protocol.Session;

namespace Milter.Protocol.Server;

/// <summary>Bounds of the listener as a whole.</summary>
public sealed record MilterServerOptions
{
    /// <summary>Concurrent connections; more are accepted and closed at once (counted, logged once per burst).</summary>
    public int MaxConnections { get; init; } = 1000;

    /// <summary>On shutdown, how long sessions in flight may take to finish before they are cut off.</summary>
    public TimeSpan ShutdownGrace { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>The per-connection bounds.</summary>
    public SessionOptions Session { get; init; } = new();
}
