using System.Net.Sockets;
using Milter.Protocol.Client;
using Milter.Protocol.Wire;
using Milter.TestSupport;

namespace EndToEnd.Tests.Daemon;

/// <summary>One daemon with tight limits, shared by the tests of <see cref="DaemonLimitsTests"/> (which run one after another).</summary>
public sealed class LimitedDaemonFixture : IAsyncLifetime
{
    public DaemonSandbox Sandbox { get; } = new("limits");

    public MilterHostProcess Process { get; private set; } = null!;

    public async Task InitializeAsync() =>
        // idle_timeout 3 s: long enough that the first two connections of the cap test are still open
        // when the third comes on a loaded CI machine (at 1 s one was closed first, once), short enough
        // that the test waits for it.
        Process = await Sandbox.StartAsync(new DaemonConfig { Limits = "{ max_connections: 2, idle_timeout: 3s, max_frame_size: 64K, shutdown_grace: 2s }" });

    public async Task DisposeAsync()
    {
        await Process.DisposeAsync();
        Sandbox.Dispose();
    }
}

/// <summary>A stuck or hostile peer cannot pin the daemon: the connection cap, the idle timeout, bad input.</summary>
public sealed class DaemonLimitsTests(LimitedDaemonFixture fixture) : IClassFixture<LimitedDaemonFixture>
{
    private readonly MilterHostProcess _daemon = fixture.Process;
    private readonly DaemonSandbox _sandbox = fixture.Sandbox;

    [Fact]
    public async Task Connections_beyond_the_cap_are_refused_and_idle_ones_are_closed()
    {
        using var cancel = new CancellationTokenSource(Mta.Bound);
        await using var first = await Mta.OpenAsync(_sandbox.Endpoint, cancel.Token);
        await using var second = await Mta.OpenAsync(_sandbox.Endpoint, cancel.Token);

        var refused = await Record.ExceptionAsync(() => Mta.OpenAsync(_sandbox.Endpoint, cancel.Token));
        Assert.True(refused is EndOfStreamException or IOException or SocketException, refused?.ToString() ?? "a third connection was served");
        Assert.True(await _daemon.WaitForOutputAsync(l => l.Contains("milter listener: 1 connection(s) refused at the cap of 2 concurrent connections", StringComparison.Ordinal), Mta.Bound));

        // Silent for longer than idle_timeout: both are closed, and the cap frees up.
        Assert.Null(await first.TryReadFrameAsync(cancel.Token));
        Assert.Null(await second.TryReadFrameAsync(cancel.Token));
        Assert.True(await _daemon.WaitForOutputAsync(l => l.Contains("closed after 3 s without a command", StringComparison.Ordinal), Mta.Bound));
        Assert.Equal(ReplyCode.Continue, (await Mta.SendMessageAsync(_sandbox.Endpoint)).EndOfMessage!.Code);
    }

    [Fact]
    public async Task A_frame_over_max_frame_size_closes_that_connection_only()
    {
        using var cancel = new CancellationTokenSource(Mta.Bound);
        await using (var hostile = await MilterClient.ConnectAsync(_sandbox.Endpoint, cancel.Token))
        {
            // A length word announcing 16 MiB: far over limits.max_frame_size.
            await hostile.SendRawAsync(new byte[] { 0x01, 0x00, 0x00, 0x00, (byte)'O', 0, 0, 0, 6 }, cancel.Token);
            Assert.Null(await hostile.TryReadFrameAsync(cancel.Token));
        }

        Assert.True(await _daemon.WaitForOutputAsync(l => l.Contains("closed for bad input from the MTA", StringComparison.Ordinal), Mta.Bound),
            string.Join('\n', _daemon.Output));
        Assert.False(_daemon.HasExited);
        Assert.Equal(ReplyCode.Continue, (await Mta.SendMessageAsync(_sandbox.Endpoint)).EndOfMessage!.Code);
    }
}
