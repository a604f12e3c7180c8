using System.Net;
using System.Text.Json;
using Milter.Filters.Greylist;
using Milter.Filters.Stores;
using Milter.TestSupport;
using Npgsql;

namespace MilterHost.Tests.Admin;

/// <summary>
/// The admin commands through the built milterhost binary on a real PostgreSQL: every query family
/// the commands run (bans, allow list, triplets, greylist and decision tallies, sweeps, migrations)
/// read and written by the binary itself. .ci/run runs this class once more against the native AOT build.
/// </summary>
public sealed class AdminBinaryPostgresTests(PrivatePostgres server) : IClassFixture<PrivatePostgres>
{
    [Fact]
    public async Task Every_admin_command_works_through_the_binary_on_postgres()
    {
        var connection = await server.CreateDatabaseAsync("adminbinary");
        using var run = new AdminRun("postgres:" + connection);
        var now = DateTimeOffset.UtcNow;
        var client = IPAddress.Parse("198.51.100.9");
        // A first attempt, written as the daemon writes it (closing the stores writes the deferred attempt).
        await using (var stores = await StoreFactory.OpenAsync(run.Database, TimeProvider.System))
        {
            await stores.Greylist.Check.CheckAsync(Triplet.Create(ClientKey.ForAddress(client, AdminRun.Greylist.Subnet), "dave@other.example", "erin@example.com"),
                client, now, AdminRun.Greylist, default);
        }
        // Tally rows as a daemon's flush leaves them, ten minutes ago.
        var minute = (now.ToUnixTimeSeconds() - 600) / 60 * 60;
        await ExecuteAsync(connection,
            "INSERT INTO decision_tally (minute, filter, verdict, rule, network, sender_domain, n) "
            + $"VALUES ({minute}, 'ban', 'reject', 'ban#1', '192.0.2.0/24', 'spam.example', 3)",
            $"INSERT INTO greylist_tally (minute, event, delay, n) VALUES ({minute}, 'passed', 300, 2)");

        var banAdd = await RunAsync(run, "ban", "add", "192.0.2.0/24", "--for", "1d", "--reason", "shared");
        var banList = await RunAsync(run, "ban", "list", "--json");
        var allow = await RunAsync(run, "greylist", "allow", "partner.example");
        var list = await RunAsync(run, "greylist", "list", "--json");
        var greylistStats = await RunAsync(run, "greylist", "stats", "--json");
        var stats = await RunAsync(run, "stats", "--json");
        var remove = await RunAsync(run, "greylist", "remove", "--client", "198.51.100.0/24");
        var purge = await RunAsync(run, "greylist", "purge");
        var banRemove = await RunAsync(run, "ban", "remove", "192.0.2.0/24");

        Assert.Equal((0, ""), (banAdd.ExitCode, banAdd.StdErr));
        Assert.StartsWith("Banned 192.0.2.0/24 until ", banAdd.StdOut, StringComparison.Ordinal);
        using (var json = JsonDocument.Parse(banList.StdOut))
        {
            var ban = Assert.Single(json.RootElement.GetProperty("bans").EnumerateArray());
            Assert.Equal(("192.0.2.0/24", "shared"), (ban.GetProperty("network").GetString(), ban.GetProperty("reason").GetString()));
        }
        Assert.Equal((0, "Allowed sender domain partner.example until removed.\n", ""), allow);
        using (var json = JsonDocument.Parse(list.StdOut))
        {
            var triplet = Assert.Single(json.RootElement.GetProperty("triplets").EnumerateArray());
            Assert.Equal(("pending", "net:198.51.100.0/24", "dave@other.example"),
                (triplet.GetProperty("state").GetString(), triplet.GetProperty("client").GetString(), triplet.GetProperty("sender").GetString()));
            Assert.Equal("partner.example", Assert.Single(json.RootElement.GetProperty("allowed").EnumerateArray()).GetProperty("value").GetString());
        }
        using (var json = JsonDocument.Parse(greylistStats.StdOut))
            Assert.Equal(1, json.RootElement.GetProperty("allowed").GetInt32());
        Assert.Equal((0, ""), (stats.ExitCode, stats.StdErr));
        using (var json = JsonDocument.Parse(stats.StdOut))
        {
            var root = json.RootElement;
            var decision = Assert.Single(root.GetProperty("decisions").EnumerateArray());
            Assert.Equal(("ban", "reject", 3), (decision.GetProperty("filter").GetString(), decision.GetProperty("verdict").GetString(), decision.GetProperty("count").GetInt32()));
            var greylist = root.GetProperty("greylist");
            Assert.Equal((2, 300.0, 1), (greylist.GetProperty("passed").GetInt32(), greylist.GetProperty("median_delay_seconds").GetDouble(),
                greylist.GetProperty("pending_triplets").GetInt32()));
            Assert.Equal(1, root.GetProperty("dynamic_bans_active").GetInt32());
            var network = Assert.Single(root.GetProperty("top_refused_networks").EnumerateArray());
            Assert.Equal(("192.0.2.0/24", 3, true), (network.GetProperty("network").GetString(), network.GetProperty("count").GetInt32(), network.GetProperty("banned").GetBoolean()));
            var domain = Assert.Single(root.GetProperty("top_refused_sender_domains").EnumerateArray());
            Assert.Equal(("spam.example", 3), (domain.GetProperty("domain").GetString(), domain.GetProperty("count").GetInt32()));
        }
        Assert.Equal((0, "Removed 1 triplet(s) and 0 auto-whitelist entries.\n", ""), remove);
        Assert.Equal((0, "Purged 0 expired row(s).\n", ""), purge);
        Assert.Equal((0, "Removed the ban of 192.0.2.0/24.\n", ""), banRemove);
    }

    private static Task<(int ExitCode, string StdOut, string StdErr)> RunAsync(AdminRun run, params string[] args) =>
        MilterHostProcess.RunToEndAsync([.. args, "--config", run.ConfigPath]);

    private static async Task ExecuteAsync(string connectionString, params string[] statements)
    {
        await using var connection = new NpgsqlConnection(connectionString);
        await connection.OpenAsync();
        foreach (var sql in statements)
        {
            await using var command = new NpgsqlCommand(sql, connection);
            await command.ExecuteNonQueryAsync();
        }
    }
}
