using System.Diagnostics;
using System.Globalization;
using EndToEnd.Tests.Daemon;
using Milter.TestSupport;
using Xunit.Abstractions;

namespace EndToEnd.Tests.Hostile;

/// <summary>PostgreSQL stopped under load and started again, or frozen, under a running daemon.</summary>
[Collection(HostileCollection.Name)]
public sealed class PostgresFaultTests(PrivatePostgres postgres, ITestOutputHelper output) : IClassFixture<PrivatePostgres>
{
    private int _sender;

    [Fact]
    public async Task PostgreSQL_stopped_mid_load_is_answered_per_on_error_and_service_returns_by_itself_when_it_starts()
    {
        using var sandbox = new DaemonSandbox("pgrestart");
        await using var daemon = await sandbox.StartAsync(StoreFaultTests.Config with { Database = "postgres:" + await postgres.CreateDatabaseAsync("pgrestart") });
        var replies = new List<(string Phase, string Reply)>();
        var phase = "before";
        using var stop = new CancellationTokenSource();
        var load = Task.Run(async () =>
        {
            while (!stop.IsCancellationRequested)
            {
                var reply = await RcptAsync(sandbox);
                lock (replies) replies.Add((Volatile.Read(ref phase), reply));
            }
        });

        await Task.Delay(1500);
        Volatile.Write(ref phase, "stopping");
        await postgres.StopAsync();
        Volatile.Write(ref phase, "stopped");
        await Task.Delay(2000);
        Volatile.Write(ref phase, "starting");
        await postgres.StartAsync();
        Volatile.Write(ref phase, "started");
        var clock = Stopwatch.StartNew();
        while (clock.Elapsed < TimeSpan.FromSeconds(20) && !replies.Skip(replies.Count - 3).All(r => r.Phase == "started" && r.Reply == StoreFaultTests.Greylisted))
            await Task.Delay(200);
        await stop.CancelAsync();
        await load;

        output.WriteLine(string.Join("\n", replies.GroupBy(r => (r.Phase, r.Reply)).Select(g => $"{g.Key.Phase}: {g.Count()} x {g.Key.Reply}")));
        Assert.All(replies.Where(r => r.Phase == "before"), r => Assert.Equal(StoreFaultTests.Greylisted, r.Reply));
        Assert.All(replies.Where(r => r.Phase == "stopped"), r => Assert.Equal(StoreFaultTests.OnError, r.Reply));
        Assert.Contains(replies, r => r.Phase == "stopped");
        // Once answers are greylisting again they stay so: the daemon came back by itself.
        var after = replies.Where(r => r.Phase == "started").SkipWhile(r => r.Reply != StoreFaultTests.Greylisted).ToList();
        Assert.True(after.Count >= 3, "no greylisting after PostgreSQL started again");
        Assert.All(after, r => Assert.Equal(StoreFaultTests.Greylisted, r.Reply));
        Assert.All(replies, r => Assert.True(r.Reply is StoreFaultTests.Greylisted or StoreFaultTests.OnError, r.Reply));
        var failures = replies.Count(r => r.Reply == StoreFaultTests.OnError);
        Assert.Equal(1, daemon.Output.Count(l => l.Contains(StoreFaultTests.FailedLine, StringComparison.Ordinal)));
        Assert.Equal(1, daemon.Output.Count(l => l.Contains(StoreFaultTests.RecoveredLine, StringComparison.Ordinal)));
        Assert.Contains(daemon.Output, l => l.Contains($"{StoreFaultTests.RecoveredLine} {failures} failure(s)", StringComparison.Ordinal));
    }

    [Fact]
    public async Task A_frozen_PostgreSQL_is_answered_per_on_error_at_the_stage_timeout()
    {
        using var sandbox = new DaemonSandbox("pgfrozen");
        await using var daemon = await sandbox.StartAsync(StoreFaultTests.Config with
        {
            Database = "postgres:" + await postgres.CreateDatabaseAsync("pgfrozen"),
            Limits = "{ stage_timeout: 3s, shutdown_grace: 2s }",
        });
        Assert.Equal(StoreFaultTests.Greylisted, await RcptAsync(sandbox));

        postgres.Pause();
        string frozen;
        var clock = Stopwatch.StartNew();
        try
        {
            frozen = await RcptAsync(sandbox, mayBeClosed: true);
        }
        finally
        {
            postgres.Resume();
        }
        var answeredAfter = clock.Elapsed;

        output.WriteLine($"frozen store: '{frozen}' after {answeredAfter.TotalSeconds:0.0} s");
        Assert.Equal(StoreFaultTests.OnError, frozen);
        // The stage timeout, well before sendmail's own read timeout (T=R:30s in our INPUT_MAIL_FILTER).
        Assert.InRange(answeredAfter.TotalSeconds, 2.8, 10); // stage_timeout 3 s + the 2 s cancel grace
        Assert.Contains(daemon.Output, l => l.Contains("the filter took longer than 3 s at RCPT; answering Tempfail 451 4.3.0", StringComparison.Ordinal));

        // Until the thawed server answers again, a session may still meet a store call stuck past the
        // cancel grace, and then the daemon closes it after its answer, as above.
        var clockAfter = Stopwatch.StartNew();
        string again;
        do
            again = await RcptAsync(sandbox, mayBeClosed: true);
        while (again != StoreFaultTests.Greylisted && clockAfter.Elapsed < TimeSpan.FromSeconds(20));
        Assert.Equal(StoreFaultTests.Greylisted, again);
    }

    /// <summary>One SMTP session from a greylisted client with a new triplet; the RCPT answer.</summary>
    /// <param name="mayBeClosed">
    /// The daemon may have closed the connection after this answer: it does when the store call is still
    /// stuck after the cancel grace (the session must not run a next stage beside it); when Npgsql gives
    /// up within the grace (its own cancellation timeout is about as long) the session goes on. Either
    /// way the connection ends after QUIT.
    /// </param>
    private async Task<string> RcptAsync(DaemonSandbox sandbox, bool mayBeClosed = false)
    {
        var sender = string.Create(CultureInfo.InvariantCulture, $"pg{Interlocked.Increment(ref _sender)}@outside.example");
        using var cancel = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        await using var mta = await Mta.OpenAsync(sandbox.Endpoint, cancel.Token);
        await Mta.ConnectAsync(mta, "192.0.2.7", cancel.Token);
        var reply = (await Mta.EnvelopeAsync(mta, "5ATpg0000001", sender, "bob@example.com", cancel.Token)).ToString();
        if (mayBeClosed)
        {
            try
            {
                await mta.AbortAsync(cancel.Token);
                await mta.QuitAsync(cancel.Token);
            }
            catch (Exception e) when (e is IOException or System.Net.Sockets.SocketException)
            {
                // Closed already: the handler was stuck.
            }
            Assert.True(await EndedAsync(mta, cancel.Token), "the daemon sent a frame after QUIT");
            return reply;
        }
        await mta.AbortAsync(cancel.Token);
        await mta.QuitAsync(cancel.Token);
        return reply;
    }

    /// <summary>True once the daemon's side of the connection is closed (end of stream, or reset after our write hit a closed socket).</summary>
    private static async Task<bool> EndedAsync(Milter.Protocol.Client.MilterClient mta, CancellationToken cancellationToken)
    {
        try
        {
            return await mta.TryReadFrameAsync(cancellationToken) is null;
        }
        catch (Exception e) when (e is IOException or System.Net.Sockets.SocketException)
        {
            return true;
        }
    }
}
