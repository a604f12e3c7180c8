using System.Globalization;
using EndToEnd.Tests.Daemon;
using Milter.Protocol.Client;
using Milter.TestSupport;
using Xunit.Abstractions;

namespace EndToEnd.Tests.Hostile;

/// <summary>
/// The SQLite store failing under a running daemon (greylisting on, <c>on_error: tempfail</c>): the
/// first new triplets may still be answered from a read (greylisted) while their write is under way;
/// once that write fails (logged, the attempts named lost), each answer follows on_error
/// (<c>451 4.3.0</c>), the failure is logged once for the burst rather than once per recipient, and
/// service comes back by itself when the store does.
/// </summary>
[Collection(HostileCollection.Name)]
public sealed class StoreFaultTests(ITestOutputHelper output)
{
    internal const string Greylisted = "451 4.7.1 Greylisted, please retry in 120 seconds";
    internal const string OnError = "451 4.3.0 Temporary local problem, please try again later";
    internal const string FailedLine = "Filter greylist failed at rcpt";
    internal const string StillFailingLine = "Filter greylist is still failing";
    internal const string RecoveredLine = "Filter greylist works again after";
    internal const string LostLine = "greylist attempts failed; they were answered and are dropped";

    internal static readonly DaemonConfig Config = new()
    {
        Greylist = "{ enabled: true, per_message: false, spf_pools: false, only_suspicious: false }",
        Log = "{ level: info, syslog: false }",
        Limits = "{ stage_timeout: 10s, shutdown_grace: 2s }",
    };

    private int _sender;

    [Fact]
    public async Task A_full_disk_is_answered_per_on_error_and_service_returns_when_space_does()
    {
        await using var daemon = await MountedDaemon.StartAsync("diskfull", Config);
        Assert.Equal([Greylisted], await BurstAsync(daemon, 1));

        await daemon.InNamespaceAsync($"dd if=/dev/zero of={daemon.DatabaseFolder}/filler bs=4k 2>/dev/null; true");
        await UntilFailingAsync(daemon);
        var during = await BurstAsync(daemon, 3);

        await daemon.InNamespaceAsync($"rm {daemon.DatabaseFolder}/filler");
        var after = await BurstAsync(daemon, 1);

        await AssertOutageAsync(daemon, during, after);
    }

    [Fact]
    public async Task A_lock_held_by_another_process_is_answered_per_on_error_and_service_returns_when_it_is_released()
    {
        await using var daemon = await MountedDaemon.StartAsync("locked", Config);
        Assert.Equal([Greylisted], await BurstAsync(daemon, 1));

        using var sqlite = daemon.StartInNamespace("sqlite3", daemon.DatabasePath);
        // .timeout: should the daemon be in the middle of a write (its tally, a sweep), wait for it rather than fail at once.
        await sqlite.StandardInput.WriteLineAsync(".timeout 5000");
        await sqlite.StandardInput.WriteLineAsync("BEGIN EXCLUSIVE; INSERT INTO schema_version VALUES (999, 0);");
        await sqlite.StandardInput.FlushAsync();
        await WaitUntilLockedAsync(daemon);
        await UntilFailingAsync(daemon);
        var during = await BurstAsync(daemon, 2); // each recipient waits out busy_timeout (5 s)

        await sqlite.StandardInput.WriteLineAsync("ROLLBACK;");
        sqlite.StandardInput.Close(); // end of input: sqlite3 exits
        await sqlite.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(10));
        var after = await BurstAsync(daemon, 1);

        await AssertOutageAsync(daemon, during, after);
    }

    [Fact]
    public async Task A_database_removed_under_the_daemon_is_started_anew_and_a_read_only_folder_is_answered_per_on_error()
    {
        await using var daemon = await MountedDaemon.StartAsync("removed", Config);
        Assert.Equal([Greylisted], await BurstAsync(daemon, 1));
        // The first attempt is written a moment after its answer (the write-behind gathers for 10 ms).
        // Had that write come between the rm and the mount below, it would start the new file before
        // the folder turned read-only, and the daemon's later opens through the read-only mount
        // (SQLite falls back to read-only) would keep it busy at the umount.
        await UntilWrittenAsync(daemon, 1);

        // Removed, with a read-only mount stacked over the folder: the daemon cannot start a new file.
        // (A read-only remount of a file system it has open for writing is refused by the kernel;
        // stacking a read-only bind mount is what a daemon that reopens its file would meet.)
        await daemon.InNamespaceAsync($"rm {daemon.DatabasePath}* && mount --bind -o ro {daemon.DatabaseFolder} {daemon.DatabaseFolder}");
        await UntilFailingAsync(daemon);
        var during = await BurstAsync(daemon, 3);

        await daemon.InNamespaceAsync($"umount {daemon.DatabaseFolder}");
        var after = await BurstAsync(daemon, 1);

        await AssertOutageAsync(daemon, during, after);
        Assert.Equal(1, daemon.Count("was removed while in use; starting a new, empty one"));
        Assert.Equal(1, daemon.Count("re-created at schema version"));
        Assert.Equal("ok", (await daemon.InNamespaceAsync($"sqlite3 {daemon.DatabasePath} 'PRAGMA integrity_check'")).Trim());
        Assert.Equal("1", await TripletRowsAsync(daemon));
    }

    /// <summary>Waits until the database holds <paramref name="triplets"/> triplet rows (read with sqlite3 in the daemon's namespace).</summary>
    private static async Task UntilWrittenAsync(MountedDaemon daemon, int triplets)
    {
        var count = "";
        for (var i = 0; i < 500; i++)
        {
            count = await TripletRowsAsync(daemon);
            if (count == triplets.ToString(System.Globalization.CultureInfo.InvariantCulture))
                return;
            await Task.Delay(20);
        }
        Assert.Fail($"{count} triplet rows after 500 looks 20 ms apart, expected {triplets}");
    }

    /// <summary>The database's triplet rows, counted with sqlite3 in the daemon's namespace.</summary>
    private static async Task<string> TripletRowsAsync(MountedDaemon daemon) =>
        (await daemon.InNamespaceAsync($"sqlite3 {daemon.DatabasePath} 'SELECT count(*) FROM greylist_triplet'")).Trim();

    /// <summary>
    /// New triplets, one a second, until one is answered per on_error: the ones before are answered
    /// from a read (the database still reads) and greylisted, and their write, under way, fails.
    /// </summary>
    private async Task UntilFailingAsync(MountedDaemon daemon)
    {
        // A full disk shows only once SQLite must grow a file: the checkpoint loop resets the WAL
        // every 500 ms, so commits reuse its space and fail only after a checkpoint could not grow
        // the database (after 2 to 7 probes in most runs, more than 30 in one). The bound is time,
        // not the assertion: the outage must still be answered per on_error and logged.
        for (var i = 0; i < 120; i++)
        {
            var reply = Assert.Single(await BurstAsync(daemon, 1));
            if (reply == OnError)
            {
                output.WriteLine($"answered per on_error from probe {i + 1} on");
                Assert.True(daemon.Count(LostLine) >= 1, "the lost attempts were not logged");
                return;
            }
            Assert.Equal(Greylisted, reply);
            await Task.Delay(1000);
        }
        Assert.Fail("the daemon never noticed that its writes fail");
    }

    /// <summary>Until a writer in another process gets "database is locked" (sqlite3's own output is buffered).</summary>
    private static async Task WaitUntilLockedAsync(MountedDaemon daemon)
    {
        for (var i = 0; i < 100; i++)
        {
            try
            {
                await daemon.InNamespaceAsync($"sqlite3 -cmd '.timeout 0' {daemon.DatabasePath} 'BEGIN IMMEDIATE; ROLLBACK;'");
            }
            catch (InvalidOperationException e) when (e.Message.Contains("locked", StringComparison.Ordinal))
            {
                return;
            }
            await Task.Delay(100);
        }
        Assert.Fail("sqlite3 did not take the lock");
    }

    /// <summary>
    /// During the outage: every recipient answered per on_error, one full failure line for the whole
    /// burst. After it: new triplets are greylisted again, and the recovery is logged once.
    /// </summary>
    private async Task AssertOutageAsync(MountedDaemon daemon, IReadOnlyList<string> during, IReadOnlyList<string> after)
    {
        output.WriteLine($"during: {string.Join(" | ", during)}; after: {string.Join(" | ", after)}");
        Assert.All(during, reply => Assert.Equal(OnError, reply));
        Assert.Equal([Greylisted], after);
        // The reply may reach the MTA before the recovery line reaches the daemon's stdout (the log has a queue of its own).
        Assert.True(await daemon.Process.WaitForOutputAsync(l => l.Contains(RecoveredLine, StringComparison.Ordinal), Mta.Bound), "no recovery line");
        Assert.Equal(1, daemon.Count(FailedLine));
        Assert.Equal(0, daemon.Count(StillFailingLine));
        Assert.Equal(1, daemon.Count(RecoveredLine));
        Assert.False(daemon.Process.HasExited);
    }

    /// <summary>One SMTP session from a greylisted client with <paramref name="recipients"/> new triplets; the RCPT answers.</summary>
    private async Task<IReadOnlyList<string>> BurstAsync(MountedDaemon daemon, int recipients)
    {
        var sender = Interlocked.Increment(ref _sender);
        using var cancel = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        await using var mta = await Mta.OpenAsync(daemon.Sandbox.Endpoint, cancel.Token);
        await Mta.ConnectAsync(mta, "192.0.2.7", cancel.Token);
        var replies = new List<string>();
        var from = string.Create(CultureInfo.InvariantCulture, $"news{sender}@outside.example");
        replies.Add((await Mta.EnvelopeAsync(mta, "5ATfault0001", from, "bob@example.com", cancel.Token)).ToString());
        foreach (var to in new[] { "carol", "alice", "postmaster" }.Take(recipients - 1))
            replies.Add((await mta.RcptAsync(to + "@example.com", cancellationToken: cancel.Token)).ToString());
        await mta.AbortAsync(cancel.Token);
        await mta.QuitAsync(cancel.Token);
        return replies;
    }
}
