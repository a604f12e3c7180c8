using System.Net.Sockets;
using System.Text;

namespace EndToEnd.Tests.Daemon;

/// <summary>systemd Type=notify: READY=1 once serving, STATUS= on reload, STOPPING=1 on SIGTERM, on the socket NOTIFY_SOCKET names.</summary>
public sealed class DaemonSystemdTests
{
    [Fact]
    public async Task Tells_systemd_when_it_is_ready_reloaded_and_stopping()
    {
        using var sandbox = new DaemonSandbox("systemd");
        var notifyPath = Path.Combine(sandbox.Directory, "notify.sock");
        using var notify = new Socket(AddressFamily.Unix, SocketType.Dgram, ProtocolType.Unspecified);
        notify.Bind(new UnixDomainSocketEndPoint(notifyPath));
        using var cancel = new CancellationTokenSource(Mta.Bound);

        await using var daemon = await sandbox.StartAsync(new DaemonConfig(), environment: new Dictionary<string, string> { ["NOTIFY_SOCKET"] = notifyPath });
        Assert.Equal("READY=1\nSTATUS=serving milter connections (config generation 1)", await ReceiveAsync(notify, cancel.Token));

        daemon.Signal("HUP");
        Assert.Equal("STATUS=serving milter connections (config generation 2)", await ReceiveAsync(notify, cancel.Token));

        daemon.Signal("TERM");
        Assert.Equal("STOPPING=1\nSTATUS=stopping: letting sessions in flight finish", await ReceiveAsync(notify, cancel.Token));
        Assert.Equal(0, await daemon.WaitForExitAsync(Mta.Bound));
    }

    private static async Task<string> ReceiveAsync(Socket socket, CancellationToken cancellationToken)
    {
        var buffer = new byte[4096];
        var length = await socket.ReceiveAsync(buffer, SocketFlags.None, cancellationToken);
        return Encoding.UTF8.GetString(buffer, 0, length);
    }
}
