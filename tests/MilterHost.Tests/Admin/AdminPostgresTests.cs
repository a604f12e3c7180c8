using System.Net;
using System.Text.Json;
using Milter.Filters.Greylist;
using Milter.TestSupport;

namespace MilterHost.Tests.Admin;

/// <summary>The listing and ban commands on a real PostgreSQL, the store several MX hosts share.</summary>
public sealed class AdminPostgresTests(PrivatePostgres server) : IClassFixture<PrivatePostgres>
{
    [Fact]
    public async Task Ban_and_greylist_commands_work_on_postgres()
    {
        var connection = await server.CreateDatabaseAsync("admin");
        using var run = new AdminRun("postgres:" + connection);
        await using (var stores = await run.OpenAsync())
        {
            var client = IPAddress.Parse("198.51.100.9");
            await stores.Greylist.Check.CheckAsync(Triplet.Create(ClientKey.ForAddress(client, AdminRun.Greylist.Subnet), "dave@other.example", "erin@example.com"),
                client, run.Time.GetUtcNow(), AdminRun.Greylist, default);
        }

        var add = await run.RunAsync("ban", "add", "192.0.2.0/24", "--for", "1d", "--reason", "shared");
        var banList = await run.RunAsync("ban", "list");
        var allow = await run.RunAsync("greylist", "allow", "partner.example");
        var list = await run.RunAsync("greylist", "list", "--json");
        var stats = await run.RunAsync("greylist", "stats");
        var remove = await run.RunAsync("ban", "remove", "192.0.2.0/24");

        Assert.Equal((0, "Banned 192.0.2.0/24 until 2026-03-03 09:00:00 +00:00 (1d).\n", ""), add);
        Assert.Equal(
            "NETWORK       SOURCE  CREATED              EXPIRES              REASON\n"
            + "192.0.2.0/24  admin   2026-03-02 09:00:00  2026-03-03 09:00:00  shared\n",
            banList.Output);
        Assert.Equal((0, "Allowed sender domain partner.example until removed.\n", ""), allow);
        using (var json = JsonDocument.Parse(list.Output))
        {
            var triplet = Assert.Single(json.RootElement.GetProperty("triplets").EnumerateArray());
            Assert.Equal(("pending", "net:198.51.100.0/24"), (triplet.GetProperty("state").GetString(), triplet.GetProperty("client").GetString()));
            Assert.Equal("partner.example", Assert.Single(json.RootElement.GetProperty("allowed").EnumerateArray()).GetProperty("value").GetString());
        }
        Assert.Equal(0, stats.Exit);
        Assert.Contains("Pending triplets:", stats.Output, StringComparison.Ordinal);
        Assert.EndsWith("net:198.51.100.0/24        1  2026-03-02 09:00:00\n", stats.Output, StringComparison.Ordinal);
        Assert.Equal((0, "Removed the ban of 192.0.2.0/24.\n", ""), remove);
    }
}
