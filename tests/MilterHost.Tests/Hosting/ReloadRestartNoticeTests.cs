using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting.Systemd;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Testing;
using MilterHost.Chain;
using MilterHost.Configuration;
using MilterHost.Hosting;
using MilterHost.Status;

namespace MilterHost.Tests.Hosting;

/// <summary>SIGHUP: a setting read only at start (log:, socket:, status:) that changed is said to need a restart.</summary>
public sealed class ReloadRestartNoticeTests : IDisposable
{
    private readonly ConfigDirectory _dir = new();

    public void Dispose() => _dir.Dispose();

    private string Yaml(string extra) =>
        $"listen: \"unix:{_dir.Path}/milter.sock\"\ndatabase: \"sqlite:{_dir.Path}/milterhost.db\"\nrecipients: {{ reject_unknown: false }}\n" + extra;

    [Theory]
    [InlineData("log: { syslog: false, file: A/first.log }\n", "log: { syslog: false, file: A/second.log }\n", "log")]
    [InlineData("socket: { mode: \"0660\" }\n", "socket: { mode: \"0666\" }\n", "socket")]
    [InlineData("status: { listen: \"127.0.0.1:8025\" }\n", "status: { listen: \"127.0.0.1:9025\" }\n", "status")]
    public async Task A_reload_that_changes_a_start_only_setting_says_it_needs_a_restart(string before, string after, string setting)
    {
        var (generation, lines) = await ReloadAsync(Yaml(before.Replace("A/", _dir.Path + "/", StringComparison.Ordinal)),
            Yaml(after.Replace("A/", _dir.Path + "/", StringComparison.Ordinal)));

        Assert.Equal(2, generation); // the reload itself succeeded
        Assert.Contains(lines, l => l.StartsWith($"reload: {setting}", StringComparison.Ordinal) && l.Contains("restart", StringComparison.Ordinal));
    }

    [Fact]
    public async Task A_reload_back_to_the_listen_address_in_use_does_not_ask_for_a_restart()
    {
        // listen: changed (not in effect until a restart), then put back as it is bound.
        var (generation, lines) = await ReloadAsync(Yaml(""), Yaml("").Replace("milter.sock", "other.sock", StringComparison.Ordinal), Yaml(""));

        Assert.Equal(3, generation);
        Assert.DoesNotContain(lines, l => l.Contains("only after a restart", StringComparison.Ordinal));
    }

    [Fact]
    public async Task A_changed_status_token_is_said_without_the_token()
    {
        var (_, lines) = await ReloadAsync(Yaml("status: { listen: \"127.0.0.1:8025\", token: old-secret }\n"),
            Yaml("status: { listen: \"127.0.0.1:8025\", token: new-secret }\n"));

        var line = Assert.Single(lines, l => l.StartsWith("reload: status", StringComparison.Ordinal));
        Assert.DoesNotContain("secret", line, StringComparison.Ordinal);
    }

    /// <summary>Starts the policy on the first text, reloads each next one in turn; the generation reached and the lines of the last reload.</summary>
    private async Task<(long Generation, List<string> Lines)> ReloadAsync(string first, params string[] next)
    {
        var initial = _dir.Load(first, out _).Config!;
        var collector = new FakeLogCollector();
        using var loggers = LoggerFactory.Create(b => b.AddProvider(new FakeLoggerProvider(collector)).SetMinimumLevel(LogLevel.Trace));
        var stores = new StoreService(initial, new DaemonMetrics("test"), TimeProvider.System, loggers);
        await stores.StartAsync(CancellationToken.None);
        try
        {
            using var services = new ServiceCollection().BuildServiceProvider();
            using var policy = new PolicyGenerations(initial, stores, new DaemonMetrics("test"), new RecentDecisions(TimeProvider.System), MilterHostSetup.BuiltIn,
                services, new BypassBanWrites(), new SystemdNotifier(), TimeProvider.System, loggers);
            await policy.StartAsync(CancellationToken.None);
            foreach (var text in next)
            {
                collector.Clear();
                _dir.Write("milterhost.yaml", text);
                await policy.ReloadAsync();
            }
            return (policy.Current.Generation, [.. collector.GetSnapshot().Select(r => r.Message)]);
        }
        finally
        {
            await stores.DisposeAsync();
        }
    }
}
