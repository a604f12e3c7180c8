using Milter.Protocol.Replies;

namespace EndToEnd.Tests.Daemon;

/// <summary>SIGHUP: a good file is swapped in for new connections; a bad one is refused and the old config keeps serving.</summary>
public sealed class DaemonReloadTests
{
    private const string BannedClient = "127.0.0.9";

    [Fact]
    public async Task SIGHUP_swaps_in_a_good_file_and_keeps_the_running_config_on_a_bad_one()
    {
        using var sandbox = new DaemonSandbox("reload");
        await using var daemon = await sandbox.StartAsync(new DaemonConfig());
        using var cancel = new CancellationTokenSource(Mta.Bound);

        Assert.Equal(VerdictKind.Continue, (await Mta.SendMessageAsync(sandbox.Endpoint, BannedClient)).Connect.Kind);
        // A session that started before the reload keeps the generation it started with.
        await using var inFlight = await Mta.OpenAsync(sandbox.Endpoint, cancel.Token);

        sandbox.Write(new DaemonConfig { Ban = [$"{{ client: {BannedClient} }}"] });
        daemon.Signal("HUP");
        Assert.True(await daemon.WaitForOutputAsync(l => l.Contains($"configuration reloaded from {sandbox.ConfigPath} (generation 2)", StringComparison.Ordinal), Mta.Bound),
            string.Join('\n', daemon.Output));

        Assert.Equal("550 5.7.1 Access denied", (await Mta.SendMessageAsync(sandbox.Endpoint, BannedClient)).Connect.ToString());
        Assert.Equal(VerdictKind.Continue, (await Mta.ConnectAsync(inFlight, BannedClient, cancel.Token)).Kind);

        // A typo: the whole file is refused, nothing of it half-applied.
        var good = await File.ReadAllTextAsync(sandbox.ConfigPath);
        await File.WriteAllTextAsync(sandbox.ConfigPath, good.Replace("greylist: { enabled: false }", "greylist: { enabld: false }", StringComparison.Ordinal));
        var line = Array.FindIndex(good.Split('\n'), l => l.StartsWith("greylist:", StringComparison.Ordinal)) + 1;
        daemon.Signal("HUP");
        Assert.True(await daemon.WaitForOutputAsync(l => l.Contains("ERROR", StringComparison.Ordinal) && l.Contains("configuration reload", StringComparison.Ordinal), Mta.Bound),
            string.Join('\n', daemon.Output));

        Assert.Contains(daemon.Output, l => l.EndsWith(
            $"configuration reload from {sandbox.ConfigPath} failed; keeping generation 2: {sandbox.ConfigPath}:{line}:13: unknown key 'enabld' in greylist (did you mean 'enabled'?)",
            StringComparison.Ordinal));
        Assert.False(daemon.HasExited);
        Assert.Equal("550 5.7.1 Access denied", (await Mta.SendMessageAsync(sandbox.Endpoint, BannedClient)).Connect.ToString());
        Assert.Equal(VerdictKind.Continue, (await Mta.SendMessageAsync(sandbox.Endpoint, "127.0.0.1")).Rcpt!.Kind);
    }

    [Fact]
    public async Task SIGHUP_switches_between_enforce_and_monitor_mode()
    {
        using var sandbox = new DaemonSandbox("reload-mode");
        var enforce = new DaemonConfig { Ban = [$"{{ client: {BannedClient} }}"] };
        await using var daemon = await sandbox.StartAsync(enforce);

        Assert.Equal("550 5.7.1 Access denied", (await Mta.SendMessageAsync(sandbox.Endpoint, BannedClient)).Connect.ToString());

        sandbox.Write(enforce with { Extra = "mode: monitor" });
        daemon.Signal("HUP");
        Assert.True(await daemon.WaitForOutputAsync(l => l.Contains("(generation 2)", StringComparison.Ordinal), Mta.Bound), string.Join('\n', daemon.Output));

        // Let through, and logged as what would have happened.
        var monitored = await Mta.SendMessageAsync(sandbox.Endpoint, BannedClient);
        Assert.Equal(VerdictKind.Continue, monitored.Connect.Kind);
        Assert.Equal(VerdictKind.Continue, monitored.Rcpt!.Kind);
        Assert.True(await daemon.WaitForOutputAsync(l => l.Contains($"decision=reject stage=connect client=[{BannedClient}] filter=ban", StringComparison.Ordinal)
            && l.EndsWith(" applied=no", StringComparison.Ordinal), Mta.Bound), string.Join('\n', daemon.Output));

        sandbox.Write(enforce);
        daemon.Signal("HUP");
        Assert.True(await daemon.WaitForOutputAsync(l => l.Contains("(generation 3)", StringComparison.Ordinal), Mta.Bound), string.Join('\n', daemon.Output));

        Assert.Equal("550 5.7.1 Access denied", (await Mta.SendMessageAsync(sandbox.Endpoint, BannedClient)).Connect.ToString());
    }

    [Fact]
    public async Task SIGHUP_rereads_the_files_the_config_names()
    {
        using var sandbox = new DaemonSandbox("reload-files");
        var hostNames = Path.Combine(sandbox.Directory, "local-host-names");
        await File.WriteAllTextAsync(hostNames, "# ours\nexample.com\n");
        // No trusted clients: a recipient outside our domains is relaying.
        await using var daemon = await sandbox.StartAsync(new DaemonConfig { LocalDomains = $"[\"file:{hostNames}\"]", Relay = "{ allow_clients: [] }" });

        Assert.Equal("550 5.7.1 Relaying denied", (await Mta.SendMessageAsync(sandbox.Endpoint, "192.0.2.7", to: "dave@example.org")).Rcpt!.ToString());

        await File.AppendAllTextAsync(hostNames, "example.org\n");
        daemon.Signal("HUP");
        Assert.True(await daemon.WaitForOutputAsync(l => l.Contains("(generation 2); new connections use it", StringComparison.Ordinal), Mta.Bound),
            string.Join('\n', daemon.Output));

        Assert.Equal(VerdictKind.Continue, (await Mta.SendMessageAsync(sandbox.Endpoint, "192.0.2.7", to: "dave@example.org")).Rcpt!.Kind);
    }
}
