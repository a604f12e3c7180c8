using System.Collections.Concurrent;
using System.Globalization;
using EndToEnd.Tests.Daemon;
using Milter.Protocol.Client;
using Milter.Protocol.Replies;
using Milter.TestSupport;
using Xunit.Abstractions;

namespace EndToEnd.Tests.Hostile;

/// <summary><c>kill -9</c> in the middle of greylist traffic loses no pass that was answered.</summary>
[Collection(HostileCollection.Name)]
public sealed class CrashSafetyTests(ITestOutputHelper output)
{
    private const string Client = "192.0.2.7";

    private static readonly DaemonConfig Config = new()
    {
        Greylist = "{ enabled: true, delay: 1s, per_message: false, spf_pools: false, only_suspicious: false, auto_whitelist: { after: 100000, lifetime: 36d } }",
        Log = "{ level: info, syslog: false }",
        Limits = "{ shutdown_grace: 2s }",
    };

    [Fact]
    public async Task Every_pass_answered_before_a_kill_9_is_still_a_pass_after_restart_and_the_database_is_intact()
    {
        using var sandbox = new DaemonSandbox("crash");
        var passed = new ConcurrentBag<string>();
        var daemon = await sandbox.StartAsync(Config);
        await using (daemon)
        {
            using var stop = new CancellationTokenSource();
            var loops = Enumerable.Range(0, 4).Select(worker => Task.Run(() => GreylistLoopAsync(sandbox, worker, passed, stop.Token))).ToArray();
            while (passed.Count < 40)
                await Task.Delay(100);
            await Task.Delay(Random.Shared.Next(200, 1500)); // somewhere inside a batch
            daemon.Signal("KILL");
            await daemon.WaitForExitAsync(TimeSpan.FromSeconds(10));
            await stop.CancelAsync();
            await Task.WhenAll(loops);
        }

        var snapshot = passed.ToArray();
        output.WriteLine($"{snapshot.Length} passes answered before the kill");
        Assert.Equal("ok", (await Sqlite(Path.Combine(sandbox.Directory, "milterhost.db"), "PRAGMA integrity_check")).Trim());

        await using var restarted = await sandbox.StartAsync(Config);
        var lost = new List<string>();
        foreach (var sender in snapshot)
        {
            var answer = await Mta.SendMessageAsync(sandbox.Endpoint, Client, sender, "bob@example.com");
            if (answer.Rcpt!.Kind != VerdictKind.Continue)
                lost.Add($"{sender}: {answer.Rcpt}");
        }
        Assert.Empty(lost);
    }

    /// <summary>Batches of 10 new triplets: first attempts (greylisted), then after the delay the retries (passed).</summary>
    private static async Task GreylistLoopAsync(DaemonSandbox sandbox, int worker, ConcurrentBag<string> passed, CancellationToken stop)
    {
        for (var batch = 0; !stop.IsCancellationRequested; batch++)
        {
            var senders = Enumerable.Range(0, 10)
                .Select(i => string.Create(CultureInfo.InvariantCulture, $"w{worker}b{batch}n{i}@outside.example")).ToList();
            try
            {
                foreach (var sender in senders)
                    await Mta.SendMessageAsync(sandbox.Endpoint, Client, sender, "bob@example.com");
                await Task.Delay(1100, stop);
                foreach (var sender in senders)
                {
                    var answer = await Mta.SendMessageAsync(sandbox.Endpoint, Client, sender, "bob@example.com");
                    if (answer.Rcpt!.Kind == VerdictKind.Continue)
                        passed.Add(sender);
                }
            }
            catch (Exception e) when (e is OperationCanceledException or IOException or System.Net.Sockets.SocketException or EndOfStreamException)
            {
                if (stop.IsCancellationRequested)
                    return;
                await Task.Delay(50, CancellationToken.None); // the daemon is gone: wait for the test to stop us
            }
        }
    }

    internal static async Task<string> Sqlite(string database, string sql)
    {
        AptPackages.EnsureInstalled("sqlite3");
        var (code, stdout, stderr) = await RunAsync("sqlite3", database, sql);
        return code == 0 ? stdout : throw new InvalidOperationException($"sqlite3 {sql}: {stderr}");
    }

    private static async Task<(int, string, string)> RunAsync(string program, params string[] arguments)
    {
        var psi = new System.Diagnostics.ProcessStartInfo(program, arguments) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        using var p = System.Diagnostics.Process.Start(psi)!;
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEndAsync();
        await p.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(30));
        return (p.ExitCode, await stdout, await stderr);
    }
}
