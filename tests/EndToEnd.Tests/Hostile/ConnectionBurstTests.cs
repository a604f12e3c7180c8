using System.Diagnostics;
using System.Net.Sockets;
using EndToEnd.Tests.Daemon;
using Milter.Protocol.Wire;
using Milter.TestSupport;
using Xunit.Abstractions;

namespace EndToEnd.Tests.Hostile;

/// <summary>5,000 connections at once against <c>limits.max_connections: 200</c>.</summary>
[Collection(HostileCollection.Name)]
public sealed class ConnectionBurstTests(CappedDaemon daemon, ITestOutputHelper output) : IClassFixture<CappedDaemon>
{
    private const int Burst = 5000;
    private const int Cap = 200;

    /// <remarks>
    /// Memory: the runtime keeps what one burst made it grow to (its heap, pooled buffers) and gives
    /// pages back lazily, so a single burst cannot tell growth from a leak. The burst is played
    /// twice: descriptors must be back at the baseline after each, and the second burst must not
    /// leave RSS more than 16 MiB above the first (a leak per connection would add tens of MiB per
    /// 5,000), with a loose ceiling of baseline + 96 MiB overall.
    /// </remarks>
    [Fact]
    public async Task Five_thousand_connections_at_once_hold_the_cap_and_a_good_client_keeps_its_verdicts()
    {
        var baseline = ProcessStats.Sample(daemon.Process.Pid);
        var afterBursts = new List<ProcessSample>();
        for (var round = 1; round <= 2; round++)
        {
            await BurstAsync(round, baseline);
            var after = await ProcessStats.SettleAsync(daemon.Process.Pid, baseline.RssKiB, TimeSpan.FromSeconds(3));
            output.WriteLine($"after burst {round}: {after}");
            Assert.True(after.OpenFds <= baseline.OpenFds + 4, $"baseline {baseline}, after {after}");
            afterBursts.Add(after);
        }
        Assert.True(afterBursts[1].RssKiB <= afterBursts[0].RssKiB + 16 * 1024, $"after the first burst {afterBursts[0]}, after the second {afterBursts[1]}");
        Assert.True(afterBursts[1].RssKiB <= baseline.RssKiB + 96 * 1024, $"baseline {baseline}, after {afterBursts[1]}");
    }

    private async Task BurstAsync(int round, ProcessSample baseline)
    {
        var capLines = daemon.Count("refused at the cap of 200");
        await using var good = await GoodClient.StartAsync(daemon.Sandbox.Endpoint);
        using var cancel = new CancellationTokenSource(TimeSpan.FromSeconds(60));

        // All at once: every connect is in flight before the first is awaited.
        var clock = Stopwatch.StartNew();
        var connects = Enumerable.Range(0, Burst).Select(_ => TryConnectAsync(cancel.Token)).ToArray();
        var sockets = (await Task.WhenAll(connects)).Where(s => s is not null).Select(s => s!).ToList();
        var connected = clock.Elapsed;
        try
        {
            // Each socket learns whether the daemon closed it: a read returns 0 at once for a refused one.
            // 10 s: on a loaded 2-core CI machine the daemon may take a few seconds to reach the last refusals.
            var closed = sockets.Select(s => ClosedWithinAsync(s, TimeSpan.FromSeconds(10), cancel.Token)).ToArray();
            var held = (await Task.WhenAll(closed)).Count(c => !c);
            var peak = ProcessStats.Sample(daemon.Process.Pid);
            output.WriteLine($"burst {round}: {sockets.Count} of {Burst} connects completed in {connected.TotalSeconds:0.0} s; {held} held open by the daemon; peak {peak}");

            // The good client holds one slot of the cap; the daemon holds no more than the rest.
            Assert.InRange(held, 1, Cap - 1);
            Assert.InRange(sockets.Count, Cap, Burst);
            Assert.True(peak.OpenFds <= baseline.OpenFds + Cap + 16, $"baseline {baseline}, peak {peak}");
            // One line for the burst, never one per refusal: the first refusal is logged, then a summary
            // at most every 10 s; a second burst within 10 s of the first is counted into the next summary.
            var lines = daemon.Count("refused at the cap of 200") - capLines;
            Assert.InRange(lines, round == 1 ? 1 : 0, 1 + (int)(clock.Elapsed.TotalSeconds / 10));
        }
        finally
        {
            foreach (var s in sockets)
                s.Dispose();
        }

        // Meanwhile and after: the connected MTA got every verdict, a new one is served again.
        Assert.True(await good.StopAsync() > 1);
        Assert.Empty(good.Wrong);
        await Task.Delay(500); // the daemon sees the hostile sockets close
        var fresh = await Mta.SendMessageAsync(daemon.Sandbox.Endpoint);
        Assert.Equal(ReplyCode.Continue, fresh.EndOfMessage!.Code);
    }

    private async Task<Socket?> TryConnectAsync(CancellationToken cancellationToken)
    {
        try
        {
            return await daemon.ConnectRawAsync(cancellationToken);
        }
        catch (SocketException)
        {
            return null; // the kernel's backlog was full: refused before the daemon saw it
        }
    }

    private static async Task<bool> ClosedWithinAsync(Socket socket, TimeSpan within, CancellationToken cancellationToken)
    {
        using var wait = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        wait.CancelAfter(within);
        try
        {
            return await socket.ReceiveAsync(new byte[1], SocketFlags.None, wait.Token) == 0;
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            return false;
        }
        catch (SocketException)
        {
            return true;
        }
    }
}
