using System.Diagnostics;
using System.Net.Sockets;
using Milter.Protocol.Replies;
using Milter.Protocol.Wire;

namespace EndToEnd.Tests.Daemon;

/// <summary>SIGTERM: stop accepting, let sessions in flight finish within <c>limits.shutdown_grace</c>, exit 0.</summary>
public sealed class DaemonShutdownTests
{
    [Fact]
    public async Task SIGTERM_stops_accepting_but_lets_a_message_in_flight_finish()
    {
        using var sandbox = new DaemonSandbox("drain");
        await using var daemon = await sandbox.StartAsync(new DaemonConfig { Limits = "{ shutdown_grace: 20s }" });
        using var cancel = new CancellationTokenSource(Mta.Bound);
        await using var inFlight = await Mta.OpenAsync(sandbox.Endpoint, cancel.Token);
        await Mta.ConnectAsync(inFlight, "127.0.0.1", cancel.Token);
        Assert.Equal(VerdictKind.Continue, (await Mta.EnvelopeAsync(inFlight, "5ATbbb000001", "a@outside.example", "alice@example.com", cancel.Token)).Kind);

        daemon.Signal("TERM");
        Assert.True(await daemon.WaitForOutputAsync(l => l.Contains("stopping: no new connections; 1 session(s) in flight may finish", StringComparison.Ordinal), Mta.Bound),
            string.Join('\n', daemon.Output));

        var refused = await Assert.ThrowsAsync<SocketException>(() => Mta.OpenAsync(sandbox.Endpoint, cancel.Token));
        Assert.Contains(refused.SocketErrorCode, new[] { SocketError.ConnectionRefused, SocketError.AddressNotAvailable });
        Assert.False(daemon.HasExited, "the daemon left before the session in flight finished");

        Assert.Equal(ReplyCode.Continue, (await Mta.ContentAsync(inFlight, "finished after SIGTERM", cancel.Token)).Code);
        await inFlight.QuitAsync(cancel.Token);
        Assert.Equal(0, await daemon.WaitForExitAsync(Mta.Bound));
        Assert.DoesNotContain(daemon.Output, l => l.Contains("cutting them off", StringComparison.Ordinal));
    }

    [Fact]
    public async Task A_session_that_never_ends_is_cut_off_after_the_shutdown_grace()
    {
        using var sandbox = new DaemonSandbox("cutoff");
        await using var daemon = await sandbox.StartAsync(new DaemonConfig { Limits = "{ shutdown_grace: 2s }" });
        using var cancel = new CancellationTokenSource(Mta.Bound);
        await using var stuck = await Mta.OpenAsync(sandbox.Endpoint, cancel.Token);
        await Mta.ConnectAsync(stuck, "127.0.0.1", cancel.Token);

        var clock = Stopwatch.StartNew();
        daemon.Signal("TERM");

        Assert.Equal(0, await daemon.WaitForExitAsync(Mta.Bound));
        Assert.InRange(clock.Elapsed, TimeSpan.FromSeconds(1.9), TimeSpan.FromSeconds(8));
        Assert.Contains(daemon.Output, l => l.Contains("milter listener: 1 session(s) still running after the shutdown grace period; cutting them off", StringComparison.Ordinal));
        Assert.Null(await stuck.TryReadFrameAsync(cancel.Token));
        Assert.False(File.Exists(sandbox.SocketPath));
    }
}
