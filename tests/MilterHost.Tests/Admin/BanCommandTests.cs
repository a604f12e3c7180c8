using System.Net;
using System.Text.Json;
using Milter.Filters.Stores;

namespace MilterHost.Tests.Admin;

/// <summary><c>milterhost ban list|add|remove</c> on a real SQLite file, run in-process.</summary>
public sealed class BanCommandTests : IDisposable
{
    private readonly AdminRun _run = new();

    public void Dispose() => _run.Dispose();

    [Fact]
    public async Task Add_then_list_shows_an_aligned_table_newest_first()
    {
        var first = await _run.RunAsync("ban", "add", "203.0.113.0/24", "--reason", "spam run");
        _run.Time.Advance(TimeSpan.FromMinutes(5));
        var second = await _run.RunAsync("ban", "add", "2001:db8::7", "--for", "36h");

        var (exit, output, error) = await _run.RunAsync("ban", "list");

        Assert.Equal((0, "Banned 203.0.113.0/24 until 2026-03-09 09:00:00 +00:00 (7d).\n", ""), first);
        Assert.Equal((0, "Banned 2001:db8::7/128 until 2026-03-03 21:05:00 +00:00 (36h).\n", ""), second);
        Assert.Equal("", error);
        Assert.Equal(0, exit);
        Assert.Equal(
            "NETWORK          SOURCE  CREATED              EXPIRES              REASON\n"
            + $"2001:db8::7/128  admin   2026-03-02 09:05:00  2026-03-03 21:05:00  added by {Environment.UserName}\n"
            + "203.0.113.0/24   admin   2026-03-02 09:00:00  2026-03-09 09:00:00  spam run\n",
            output);
    }

    [Fact]
    public async Task Add_stores_an_admin_ban_the_daemon_finds_for_every_address_inside()
    {
        await _run.RunAsync("ban", "add", "198.51.100.7/24", "--for", "2h", "--reason", "probe");

        await using var stores = await _run.OpenAsync();
        var ban = await stores.Bans.FindAsync(IPAddress.Parse("198.51.100.200"), _run.Time.GetUtcNow(), default);
        Assert.Equal(new DynamicBan(IPNetwork.Parse("198.51.100.0/24"), "probe", BanSource.Admin, AdminRun.Start, AdminRun.Start.AddHours(2)), ban);
    }

    [Fact]
    public async Task List_json_has_every_field_and_an_empty_list_says_so()
    {
        var empty = await _run.RunAsync("ban", "list");
        await _run.RunAsync("ban", "add", "192.0.2.9", "--for", "1d", "--reason", "dictionary attack");

        var (exit, output, _) = await _run.RunAsync("ban", "list", "--json");

        Assert.Equal((0, "No active bans.\n", ""), empty);
        Assert.Equal(0, exit);
        using var json = JsonDocument.Parse(output);
        var ban = Assert.Single(json.RootElement.GetProperty("bans").EnumerateArray());
        Assert.Equal("192.0.2.9/32", ban.GetProperty("network").GetString());
        Assert.Equal("admin", ban.GetProperty("source").GetString());
        Assert.Equal("dictionary attack", ban.GetProperty("reason").GetString());
        Assert.Equal(AdminRun.Start, ban.GetProperty("created").GetDateTimeOffset());
        Assert.Equal(AdminRun.Start.AddDays(1), ban.GetProperty("expires").GetDateTimeOffset());
    }

    [Fact]
    public async Task Adding_a_shorter_ban_of_a_banned_network_changes_nothing_and_a_longer_one_extends_it()
    {
        await _run.RunAsync("ban", "add", "192.0.2.0/24", "--for", "7d");

        var shorter = await _run.RunAsync("ban", "add", "192.0.2.0/24", "--for", "1d");
        var longer = await _run.RunAsync("ban", "add", "192.0.2.0/24", "--for", "30d");

        Assert.Equal((0, "192.0.2.0/24 is already banned until 2026-03-09 09:00:00 +00:00; unchanged.\n", ""), shorter);
        Assert.Equal((0, "Banned 192.0.2.0/24 until 2026-04-01 09:00:00 +00:00 (30d).\n", ""), longer);
    }

    [Fact]
    public async Task Remove_lifts_exactly_that_ban_and_an_address_inside_a_banned_network_is_explained()
    {
        await _run.RunAsync("ban", "add", "192.0.2.0/24");

        var inside = await _run.RunAsync("ban", "remove", "192.0.2.7");
        var unknown = await _run.RunAsync("ban", "remove", "198.51.100.0/24");
        var removed = await _run.RunAsync("ban", "remove", "192.0.2.0/24");
        var after = await _run.RunAsync("ban", "list");

        Assert.Equal((1, "", "ban remove: no ban for exactly 192.0.2.7/32; it lies inside the ban of 192.0.2.0/24\n"), inside);
        Assert.Equal((1, "", "ban remove: no ban for 198.51.100.0/24\n"), unknown);
        Assert.Equal((0, "Removed the ban of 192.0.2.0/24.\n", ""), removed);
        Assert.Equal("No active bans.\n", after.Output);
    }

    [Fact]
    public async Task Banning_a_trusted_relay_client_warns_and_still_bans()
    {
        var (exit, output, error) = await _run.RunAsync("ban", "add", "127.0.0.0/8", "--for", "1h");

        Assert.Equal(0, exit);
        Assert.Equal("ban add: warning: 127.0.0.0/8 overlaps relay.allow_clients 127.0.0.1/32; those clients are refused too\n", error);
        Assert.Equal("Banned 127.0.0.0/8 until 2026-03-02 10:00:00 +00:00 (1h).\n", output);
    }

    [Theory]
    [InlineData("add", "203.0.113.0/33", "'203.0.113.0/33' has a bad prefix length; it must be 0-32 for IPv4")]
    [InlineData("add", "mail.example", "'mail.example' is not an IP address or CIDR network (e.g. 192.0.2.0/24, 2001:db8::/32)")]
    [InlineData("remove", "300.1.2.3", "'300.1.2.3' is not an IP address or CIDR network (e.g. 192.0.2.0/24, 2001:db8::/32)")]
    public async Task Bad_network_is_refused_before_the_store_is_touched(string verb, string network, string message)
    {
        var (exit, output, error) = await _run.RunAsync("ban", verb, network);

        Assert.Equal(1, exit);
        Assert.Contains(message, error, StringComparison.Ordinal);
        Assert.DoesNotContain("Banned", output, StringComparison.Ordinal);
        Assert.False(File.Exists(_run.Combine("milterhost.db")));
    }

    [Fact]
    public async Task Zero_duration_is_refused()
    {
        var (exit, _, error) = await _run.RunAsync("ban", "add", "192.0.2.1", "--for", "0s");

        Assert.Equal(1, exit);
        Assert.Contains("--for: '0s' must be longer than zero", error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Broken_config_is_reported_with_its_position_and_no_store_is_opened()
    {
        File.WriteAllText(_run.ConfigPath, "database: sqlite:x.db\nrelay:\n  allow_clients: [not-a-network]\n");

        var (exit, output, error) = await _run.RunAsync("ban", "list");

        Assert.Equal(1, exit);
        Assert.Equal("", output);
        Assert.StartsWith($"{_run.ConfigPath}:3:", error, StringComparison.Ordinal);
        Assert.False(File.Exists(_run.Combine("x.db")));
    }

    [Fact]
    public async Task Unopenable_database_is_one_clear_line()
    {
        var blocker = _run.Combine("not-a-folder");
        File.WriteAllText(blocker, "");
        File.WriteAllText(_run.ConfigPath, $"database: sqlite:{blocker}/milterhost.db\n");

        var (exit, output, error) = await _run.RunAsync("ban", "list");

        Assert.Equal(1, exit);
        Assert.Equal("", output);
        Assert.StartsWith($"ban list: cannot open the store: sqlite:{blocker}/milterhost.db: ", error, StringComparison.Ordinal);
        Assert.Single(error.TrimEnd('\n').Split('\n'));
    }
}
