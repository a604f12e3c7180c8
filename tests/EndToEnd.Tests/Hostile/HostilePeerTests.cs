using System.Buffers.Binary;
using System.Diagnostics;
using System.Net.Sockets;
using System.Text;
using EndToEnd.Tests.Daemon;
using Milter.Protocol.Wire;
using Milter.TestSupport;
using Xunit.Abstractions;

namespace EndToEnd.Tests.Hostile;

/// <summary>
/// Hostile peers against the real daemon (limits.idle_timeout 2s, max_connections 200): each one is
/// closed and logged once, a well-behaved MTA beside it keeps getting its verdicts, and the daemon's
/// memory comes back.
/// </summary>
/// <remarks>
/// Memory: the baseline is VmRSS after start and a warm-up. After the hostile input, the test waits
/// up to 20 s for VmRSS to come back under baseline + 48 MiB. The margin is generous on purpose: the
/// GC returns freed pages to the kernel lazily, and the pipes' pooled buffers stay with the process.
/// What it catches is what matters: a daemon that kept the input (100 MB of headers, 10,000
/// macros) would stay far above it.
/// </remarks>
[Collection(HostileCollection.Name)]
public sealed class HostilePeerTests(IdleLimitedDaemon daemon, ITestOutputHelper output) : IClassFixture<IdleLimitedDaemon>
{
    private const long MarginKiB = 48 * 1024;

    [Fact]
    public async Task A_peer_that_sends_nothing_is_closed_at_the_idle_timeout_and_logged_once()
    {
        var before = daemon.Count("without a command");
        using var cancel = new CancellationTokenSource(Mta.Bound);
        using var silent = await daemon.ConnectRawAsync(cancel.Token);
        var clock = Stopwatch.StartNew();

        var read = await silent.ReceiveAsync(new byte[16], SocketFlags.None, cancel.Token);
        var closedAfter = clock.Elapsed;

        Assert.Equal(0, read);
        Assert.InRange(closedAfter.TotalSeconds, 1.8, 6);
        Assert.True(await daemon.Process.WaitForOutputAsync(l => l.Contains("closed after 2 s without a command", StringComparison.Ordinal), Mta.Bound));
        await Task.Delay(500);
        Assert.Equal(before + 1, daemon.Count("without a command"));
    }

    [Fact]
    public async Task Ten_thousand_macros_in_one_packet_close_that_connection_only()
    {
        var baseline = ProcessStats.Sample(daemon.Process.Pid);
        var before = daemon.Count("TooManyMacros");
        await using var good = await GoodClient.StartAsync(daemon.Sandbox.Endpoint);
        using var cancel = new CancellationTokenSource(Mta.Bound);

        await using (var hostile = await Mta.OpenAsync(daemon.Sandbox.Endpoint, cancel.Token))
        {
            var macros = new StringBuilder("C");
            for (var i = 0; i < 10_000; i++)
                macros.Append("{m").Append(i).Append("}\0value\0");
            await hostile.SendRawAsync(Frame('D', Encoding.ASCII.GetBytes(macros.ToString())), cancel.Token);
            Assert.Null(await hostile.TryReadFrameAsync(cancel.Token));
        }

        Assert.True(await daemon.Process.WaitForOutputAsync(l => l.Contains("closed for bad input from the MTA: TooManyMacros", StringComparison.Ordinal), Mta.Bound));
        await Task.Delay(2500); // the good client keeps sending meanwhile
        Assert.Equal(before + 1, daemon.Count("TooManyMacros"));
        Assert.True(await good.StopAsync() > 1);
        Assert.Empty(good.Wrong);
        await AssertMemoryReturnsAsync(baseline);
    }

    [Fact]
    public async Task A_100_MB_header_stream_closes_that_connection_while_a_parallel_session_is_unaffected()
    {
        var baseline = ProcessStats.Sample(daemon.Process.Pid);
        var before = daemon.Count("HeadersTooLarge");
        await using var good = await GoodClient.StartAsync(daemon.Sandbox.Endpoint);
        using var cancel = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        using var hostile = await daemon.ConnectRawAsync(cancel.Token);

        // Negotiate and open a message by hand, then pour 16 KiB HEADER frames; a reader drains the
        // daemon's answers so it is never blocked writing to us.
        await hostile.SendAsync(Concat(
            Frame('O', [0, 0, 0, 6, 0, 0, 1, 0xff, 0, 0x1f, 0xff, 0xff]),
            Frame('C', Concat(Encoding.ASCII.GetBytes("[192.0.2.9]\0" + "4"), [0x9c, 0x40], Encoding.ASCII.GetBytes("192.0.2.9\0"))),
            Frame('H', Encoding.ASCII.GetBytes("flood.example\0")),
            Frame('M', Encoding.ASCII.GetBytes("<flood@outside.example>\0")),
            Frame('R', Encoding.ASCII.GetBytes("<alice@example.com>\0")),
            Frame('T', [])), cancel.Token);
        var drained = DrainAsync(hostile, cancel.Token);
        var header = Frame('L', Encoding.ASCII.GetBytes("X-Flood\0" + new string('a', 16 * 1024) + "\0"));
        long sent = 0;
        var refused = false;
        while (sent < 100L * 1024 * 1024)
        {
            try
            {
                await hostile.SendAsync(header, cancel.Token);
            }
            catch (SocketException e) when (e.SocketErrorCode is SocketError.ConnectionReset or SocketError.Shutdown or SocketError.ConnectionAborted)
            {
                refused = true;
                break;
            }
            sent += header.Length;
        }

        output.WriteLine($"header bytes sent before the daemon closed: {sent}");
        Assert.True(refused, $"the daemon took all {sent} bytes of headers");
        Assert.InRange(sent, 4L * 1024 * 1024, 16L * 1024 * 1024); // the 4 MiB budget, plus what the socket buffers held
        await drained;
        Assert.True(await daemon.Process.WaitForOutputAsync(l => l.Contains("closed for bad input from the MTA: HeadersTooLarge", StringComparison.Ordinal), Mta.Bound));
        await Task.Delay(1000);
        Assert.Equal(before + 1, daemon.Count("HeadersTooLarge"));
        Assert.True(await good.StopAsync() > 1);
        Assert.Empty(good.Wrong);
        await AssertMemoryReturnsAsync(baseline);
    }

    private async Task AssertMemoryReturnsAsync(ProcessSample baseline)
    {
        var after = await ProcessStats.SettleAsync(daemon.Process.Pid, baseline.RssKiB + MarginKiB, TimeSpan.FromSeconds(20));
        output.WriteLine($"daemon memory: baseline {baseline}, after {after}");
        Assert.True(after.RssKiB <= baseline.RssKiB + MarginKiB, $"baseline {baseline}, after {after}");
        Assert.False(daemon.Process.HasExited);
    }

    private static async Task DrainAsync(Socket socket, CancellationToken cancellationToken)
    {
        var buffer = new byte[64 * 1024];
        try
        {
            while (await socket.ReceiveAsync(buffer, SocketFlags.None, cancellationToken) > 0)
            {
            }
        }
        catch (SocketException)
        {
        }
    }

    internal static byte[] Frame(char code, byte[] payload)
    {
        var frame = new byte[5 + payload.Length];
        BinaryPrimitives.WriteUInt32BigEndian(frame, (uint)(payload.Length + 1));
        frame[4] = (byte)code;
        payload.CopyTo(frame, 5);
        return frame;
    }

    private static byte[] Concat(params byte[][] parts) => parts.SelectMany(p => p).ToArray();
}
