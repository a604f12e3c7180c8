using System.Net.Sockets;
using EndToEnd.Tests.Daemon;
using Milter.TestSupport;

namespace EndToEnd.Tests.Hostile;

/// <summary>A daemon of the hostile tests with its sandbox and the memory it settled at after start.</summary>
public abstract class HostileDaemon(string name, string limits) : IAsyncLifetime
{
    public DaemonSandbox Sandbox { get; } = new(name);

    public MilterHostProcess Process { get; private set; } = null!;

    public async Task InitializeAsync()
    {
        Process = await Sandbox.StartAsync(new DaemonConfig { Limits = limits, Log = "{ level: info, syslog: false }" });
        // Warm up the paths the tests use (JIT, pools) so the baseline is the serving daemon's, not a cold one's.
        for (var i = 0; i < 20; i++)
            await Mta.SendMessageAsync(Sandbox.Endpoint);
    }

    /// <summary>Lines of the daemon's log containing <paramref name="text"/>.</summary>
    public int Count(string text) => Process.Output.Count(l => l.Contains(text, StringComparison.Ordinal));

    /// <summary>A connected socket to the daemon that has sent nothing.</summary>
    public async Task<Socket> ConnectRawAsync(CancellationToken cancellationToken)
    {
        var socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        try
        {
            await socket.ConnectAsync(Sandbox.Endpoint, cancellationToken);
            return socket;
        }
        catch
        {
            socket.Dispose();
            throw;
        }
    }

    public async Task DisposeAsync()
    {
        await Process.DisposeAsync();
        Sandbox.Dispose();
    }
}

public sealed class IdleLimitedDaemon() : HostileDaemon("hostile", "{ max_connections: 200, idle_timeout: 2s, shutdown_grace: 2s }");

public sealed class CappedDaemon() : HostileDaemon("burst", "{ max_connections: 200, idle_timeout: 60s, shutdown_grace: 2s }");
