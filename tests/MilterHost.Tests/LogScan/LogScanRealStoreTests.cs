using System.CommandLine;
using System.Net;
using Milter.Filters.Stores;
using MilterHost.Commands;

namespace MilterHost.Tests.LogScan;

/// <summary>The command as the binary wires it: the config file and its real SQLite ban store.</summary>
public sealed class LogScanRealStoreTests : IDisposable
{
    private readonly TempDirectory _directory = new();

    public void Dispose() => _directory.Dispose();

    private async Task<(int Exit, string Output, string Error)> RunAsync(params string[] args)
    {
        var output = new StringWriter();
        var error = new StringWriter();
        var exit = await new RootCommand("test") { LogScanCommand.Create() }.Parse(["logscan", .. args])
            .InvokeAsync(new InvocationConfiguration { Output = output, Error = error });
        return (exit, output.ToString(), error.ToString());
    }

    [Fact]
    public async Task Apply_writes_bans_to_the_database_the_config_names_and_allow_clients_are_spared()
    {
        var database = _directory.Combine("milterhost.db");
        var config = _directory.Combine("milterhost.yaml");
        File.WriteAllText(config, $"database: sqlite:{database}\nrelay:\n  allow_clients: [192.0.2.0/24]\n");
        var now = DateTimeOffset.UtcNow;
        var stamp = now.ToString("yyyy-MM-ddTHH:mm:ss.ffffffzzz");
        var log = _directory.Combine("maillog");
        File.WriteAllLines(log, Enumerable.Range(0, 5).SelectMany(i => new[]
        {
            $"{stamp} mx1 sm-mta[{i}]: sAS0600a00000{i}: [198.51.100.9] did not issue MAIL/EXPN/VRFY/ETRN during connection to MTA",
            $"{stamp} mx1 sm-mta[{i}]: sAS0600a00001{i}: [192.0.2.9] did not issue MAIL/EXPN/VRFY/ETRN during connection to MTA",
        }));

        var (exit, output, error) = await RunAsync("--config", config, "--log", log, "--apply", "--ban-for", "2h");

        Assert.Equal("", error);
        Assert.Equal(0, exit);
        Assert.Contains("Applied: 1 new ban(s) for 2h, 0 already banned.", output);
        Assert.Contains("Not banned: 192.0.2.9 (5 events), relay.allow_clients 192.0.2.0/24.", output);
        await using var stores = await StoreFactory.OpenAsync($"sqlite:{database}", TimeProvider.System);
        var ban = Assert.Single(await stores.Bans.ListAsync(DateTimeOffset.UtcNow, CancellationToken.None));
        Assert.Equal(IPNetwork.Parse("198.51.100.9/32"), ban.Network);
        Assert.Equal("logscan: 5 events (no-mail-command)", ban.Reason);
        Assert.Equal(BanSource.Logscan, ban.Source);
    }

    [Fact]
    public async Task Broken_config_is_reported_with_its_position_and_nothing_is_scanned()
    {
        var config = _directory.Combine("milterhost.yaml");
        File.WriteAllText(config, "relay:\n  allow_clients: [not-a-network]\n");

        var (exit, output, error) = await RunAsync("--config", config, "--log", _directory.Combine("maillog"));

        Assert.Equal(1, exit);
        Assert.Equal("", output);
        Assert.StartsWith($"{config}:2:", error);
    }
}
