using System.Net;
using System.Text.Json;
using Milter.Filters.Greylist;

namespace MilterHost.Tests.Admin;

/// <summary><c>milterhost greylist list|stats|allow|remove|purge</c> on a real SQLite file, run in-process.</summary>
public sealed class GreylistCommandTests : IDisposable
{
    private static readonly IPAddress Near = IPAddress.Parse("203.0.113.5");
    private static readonly IPAddress Far = IPAddress.Parse("198.51.100.9");

    private readonly AdminRun _run = new();

    public void Dispose() => _run.Dispose();

    /// <summary>
    /// 09:00 Near: alice->bob deferred (stays pending); carol->bob deferred; 09:03 carol->bob passes;
    /// news->user deferred; 09:06 news->user passes (example.org from Near: 2 passes, whitelisted);
    /// Far: dave->erin deferred (pending).
    /// </summary>
    private async Task SeedAsync()
    {
        await using var stores = await _run.OpenAsync();
        var greylist = stores.Greylist;
        async Task Check(IPAddress client, string from, string to) =>
            await greylist.Check.CheckAsync(Triplet.Create(ClientKey.ForAddress(client, AdminRun.Greylist.Subnet), from, to), client,
                _run.Time.GetUtcNow(), AdminRun.Greylist, default);
        await Check(Near, "alice@example.org", "bob@example.com");
        await Check(Near, "carol@example.org", "bob@example.com");
        _run.Time.Advance(TimeSpan.FromMinutes(3));
        await Check(Near, "carol@example.org", "bob@example.com");
        await Check(Near, "news@example.org", "user@example.com");
        _run.Time.Advance(TimeSpan.FromMinutes(3));
        await Check(Near, "news@example.org", "user@example.com");
        await Check(Far, "dave@other.example", "erin@example.com");
    }

    [Fact]
    public async Task List_shows_triplets_auto_whitelist_and_allow_entries_in_aligned_tables()
    {
        await SeedAsync();
        await _run.RunAsync("greylist", "allow", "partner.example", "--reason", "contract");

        var (exit, output, error) = await _run.RunAsync("greylist", "list");

        Assert.Equal("", error);
        Assert.Equal(0, exit);
        Assert.Equal(
            """
            Triplets: 4
            STATE    CLIENT               SENDER                RECIPIENT           FIRST SEEN           LAST SEEN            EXPIRES              DEFERRALS
            pending  net:198.51.100.0/24  <dave@other.example>  <erin@example.com>  2026-03-02 09:06:00  2026-03-02 09:06:00  2026-03-02 14:06:00          1
            passed   net:203.0.113.0/24   <news@example.org>    <user@example.com>  2026-03-02 09:03:00  2026-03-02 09:06:00  2026-04-07 09:06:00          1
            passed   net:203.0.113.0/24   <carol@example.org>   <bob@example.com>   2026-03-02 09:00:00  2026-03-02 09:03:00  2026-04-07 09:03:00          1
            pending  net:203.0.113.0/24   <alice@example.org>   <bob@example.com>   2026-03-02 09:00:00  2026-03-02 09:00:00  2026-03-02 14:00:00          1

            Auto-whitelist: 1
            CLIENT              SENDER DOMAIN  PASSES  WHITELISTED  FIRST SEEN           LAST SEEN            EXPIRES
            net:203.0.113.0/24  example.org         2  yes          2026-03-02 09:03:00  2026-03-02 09:06:00  2026-04-07 09:06:00

            Allowed by the admin: 1
            KIND           VALUE            CREATED              EXPIRES  REASON
            sender domain  partner.example  2026-03-02 09:06:00  never    contract

            """.Replace("\r", ""),
            output);
    }

    [Theory]
    [InlineData(new[] { "--pending" }, new[] { "dave@other.example", "alice@example.org" })]
    [InlineData(new[] { "--passed" }, new[] { "news@example.org", "carol@example.org" })]
    [InlineData(new[] { "--client", "203.0.113.77" }, new[] { "news@example.org", "carol@example.org", "alice@example.org" })]
    [InlineData(new[] { "--client", "198.51.0.0/16", "--pending" }, new[] { "dave@other.example" })]
    [InlineData(new[] { "--sender", "carol@example.org" }, new[] { "carol@example.org" })]
    [InlineData(new[] { "--sender", "example.org", "--pending" }, new[] { "alice@example.org" })]
    [InlineData(new[] { "--recipient", "Bob@Example.com" }, new[] { "carol@example.org", "alice@example.org" })]
    [InlineData(new[] { "--recipient", "nobody@example.com" }, new string[0])]
    public async Task List_filters_narrow_the_triplets(string[] filters, string[] senders)
    {
        await SeedAsync();

        var (exit, output, _) = await _run.RunAsync(["greylist", "list", "--json", .. filters]);

        Assert.Equal(0, exit);
        using var json = JsonDocument.Parse(output);
        Assert.Equal(senders, json.RootElement.GetProperty("triplets").EnumerateArray().Select(t => t.GetProperty("sender").GetString()));
    }

    [Fact]
    public async Task List_json_carries_every_field_and_leaves_out_the_sections_a_filter_excludes()
    {
        await SeedAsync();
        await _run.RunAsync("greylist", "allow", "192.0.2.0/24", "--for", "36d", "--reason", "partner MX");

        var whitelisted = await _run.RunAsync("greylist", "list", "--whitelisted", "--json");
        var byRecipient = await _run.RunAsync("greylist", "list", "--recipient", "erin@example.com", "--json");
        var pending = await _run.RunAsync("greylist", "list", "--pending", "--json", "--limit", "1");

        using (var json = JsonDocument.Parse(whitelisted.Output))
        {
            var root = json.RootElement;
            Assert.False(root.TryGetProperty("triplets", out _));
            var awl = Assert.Single(root.GetProperty("autoWhitelist").EnumerateArray());
            Assert.Equal(("net:203.0.113.0/24", "example.org", 2, true),
                (awl.GetProperty("client").GetString(), awl.GetProperty("senderDomain").GetString(), awl.GetProperty("passes").GetInt32(),
                    awl.GetProperty("whitelisted").GetBoolean()));
            Assert.Equal(AdminRun.Start.AddMinutes(6).AddDays(36), awl.GetProperty("expires").GetDateTimeOffset());
            var allowed = Assert.Single(root.GetProperty("allowed").EnumerateArray());
            Assert.Equal(("network", "192.0.2.0/24", "partner MX"),
                (allowed.GetProperty("kind").GetString(), allowed.GetProperty("value").GetString(), allowed.GetProperty("reason").GetString()));
            Assert.Equal(AdminRun.Start.AddMinutes(6).AddDays(36), allowed.GetProperty("expires").GetDateTimeOffset());
            Assert.False(root.GetProperty("truncated").GetBoolean());
        }
        using (var json = JsonDocument.Parse(byRecipient.Output))
        {
            var root = json.RootElement;
            Assert.False(root.TryGetProperty("autoWhitelist", out _));
            Assert.False(root.TryGetProperty("allowed", out _));
            var triplet = Assert.Single(root.GetProperty("triplets").EnumerateArray());
            Assert.Equal(("pending", "net:198.51.100.0/24", "dave@other.example", "erin@example.com", 1),
                (triplet.GetProperty("state").GetString(), triplet.GetProperty("client").GetString(), triplet.GetProperty("sender").GetString(),
                    triplet.GetProperty("recipient").GetString(), triplet.GetProperty("deferrals").GetInt32()));
            Assert.Equal(AdminRun.Start.AddMinutes(6), triplet.GetProperty("firstSeen").GetDateTimeOffset());
        }
        using (var json = JsonDocument.Parse(pending.Output))
        {
            Assert.Single(json.RootElement.GetProperty("triplets").EnumerateArray());
            Assert.True(json.RootElement.GetProperty("truncated").GetBoolean());
        }
    }

    [Fact]
    public async Task List_of_an_empty_greylist_says_none_and_a_cut_list_says_there_may_be_more()
    {
        var empty = await _run.RunAsync("greylist", "list");
        await SeedAsync();
        var cut = await _run.RunAsync("greylist", "list", "--passed", "--limit", "2");

        Assert.Equal((0, "Triplets: none.\n\nAuto-whitelist: none.\n\nAllowed by the admin: none.\n", ""), empty);
        Assert.StartsWith("Triplets: the 2 most recently seen (there may be more: --limit):\nSTATE ", cut.Output, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(new[] { "--pending", "--passed" }, "--pending, --passed and --whitelisted exclude each other.")]
    [InlineData(new[] { "--whitelisted", "--recipient", "a@example.com" }, "--recipient applies to triplets; auto-whitelist and allow entries have none.")]
    [InlineData(new[] { "--client", "example.org" }, "'example.org' is not an IP address or CIDR network")]
    [InlineData(new[] { "--limit", "0" }, "--limit must be 1 or more.")]
    public async Task List_refuses_contradictory_or_malformed_filters(string[] arguments, string message)
    {
        var (exit, _, error) = await _run.RunAsync(["greylist", "list", .. arguments]);

        Assert.Equal(1, exit);
        Assert.Contains(message, error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Stats_count_rows_give_the_pass_rate_and_the_clients_with_most_pending()
    {
        await SeedAsync();
        await _run.RunAsync("greylist", "allow", "partner.example");
        // 14:03: alice's retry window (until 14:00) is over, dave's (until 14:06) is not.
        _run.Time.Advance(TimeSpan.FromMinutes(297));

        var (exit, output, error) = await _run.RunAsync("greylist", "stats");
        var json = await _run.RunAsync("greylist", "stats", "--json", "--top", "1");

        Assert.Equal((0, ""), (exit, error));
        Assert.Equal(
            """
            Pending triplets:                   1
            Passed triplets:                    2
            Pass rate:                     66.7 %
            Auto-whitelist entries:             1
            Auto-whitelisted (2+ passes):       1
            Allowed by the admin:               1
            Expired, not yet swept:             1

            Top pending clients:
            CLIENT               PENDING  LAST SEEN
            net:198.51.100.0/24        1  2026-03-02 09:06:00

            """.Replace("\r", ""),
            output);
        using var document = JsonDocument.Parse(json.Output);
        var root = document.RootElement;
        Assert.Equal((1, 2, 0.6667, 1, 1, 2, 1, 1),
            (root.GetProperty("pending").GetInt32(), root.GetProperty("passed").GetInt32(), root.GetProperty("passRate").GetDouble(),
                root.GetProperty("autoWhitelistEntries").GetInt32(), root.GetProperty("whitelisted").GetInt32(), root.GetProperty("whitelistAfter").GetInt32(),
                root.GetProperty("allowed").GetInt32(), root.GetProperty("expired").GetInt32()));
        var top = Assert.Single(root.GetProperty("topPending").EnumerateArray());
        Assert.Equal(("net:198.51.100.0/24", 1), (top.GetProperty("client").GetString(), top.GetProperty("pending").GetInt32()));
    }

    [Fact]
    public async Task Stats_of_an_empty_greylist_has_no_pass_rate()
    {
        var (exit, output, _) = await _run.RunAsync("greylist", "stats", "--json");

        Assert.Equal(0, exit);
        using var json = JsonDocument.Parse(output);
        Assert.Equal(JsonValueKind.Null, json.RootElement.GetProperty("passRate").ValueKind);
        Assert.Empty(json.RootElement.GetProperty("topPending").EnumerateArray());
    }

    [Fact]
    public async Task Allowed_network_and_sender_domain_skip_greylisting_in_the_store()
    {
        var network = await _run.RunAsync("greylist", "allow", "203.0.113.0/28", "--for", "2d", "--reason", "partner MX");
        var domain = await _run.RunAsync("greylist", "allow", "@Partner.Example.");

        Assert.Equal((0, "Allowed client network 203.0.113.0/28 until 2026-03-04 09:00:00 +00:00 (2d).\n", ""), network);
        Assert.Equal((0, "Allowed sender domain partner.example until removed.\n", ""), domain);
        await using var stores = await _run.OpenAsync();
        var fromNetwork = await stores.Greylist.Check.CheckAsync(Triplet.Create(ClientKey.ForAddress(Near, AdminRun.Greylist.Subnet), "x@example.org", "bob@example.com"),
            Near, _run.Time.GetUtcNow(), AdminRun.Greylist, default);
        var fromDomain = await stores.Greylist.Check.CheckAsync(Triplet.Create(ClientKey.ForAddress(Far, AdminRun.Greylist.Subnet), "y@partner.example", "bob@example.com"),
            Far, _run.Time.GetUtcNow(), AdminRun.Greylist, default);
        Assert.Equal((GreylistAction.Pass, GreylistRules.Allowed), (fromNetwork.Action, fromNetwork.Rule));
        Assert.Equal((GreylistAction.Pass, GreylistRules.Allowed), (fromDomain.Action, fromDomain.Rule));
    }

    [Theory]
    [InlineData("localhost")]
    [InlineData("10.0.0.0/40")]
    [InlineData("user@partner.example")]
    public async Task Allow_refuses_what_is_neither_a_network_nor_a_domain(string target)
    {
        var (exit, _, error) = await _run.RunAsync("greylist", "allow", target);

        Assert.Equal(1, exit);
        Assert.Contains($"'{target}' is neither an IP address or CIDR network (192.0.2.0/24) nor a sender domain (partner.example)", error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Remove_takes_away_an_allow_entry_named_as_it_was_allowed()
    {
        await _run.RunAsync("greylist", "allow", "192.0.2.7");
        await _run.RunAsync("greylist", "allow", "partner.example");

        var network = await _run.RunAsync("greylist", "remove", "192.0.2.7/32");
        var domain = await _run.RunAsync("greylist", "remove", "PARTNER.example");
        var again = await _run.RunAsync("greylist", "remove", "partner.example");
        var list = await _run.RunAsync("greylist", "list", "--whitelisted");

        Assert.Equal((0, "Removed the allow entry for client network 192.0.2.7/32.\n", ""), network);
        Assert.Equal((0, "Removed the allow entry for sender domain partner.example.\n", ""), domain);
        Assert.Equal((1, "", "greylist remove: no allow entry for sender domain partner.example\n"), again);
        Assert.Equal("Auto-whitelist: none.\n\nAllowed by the admin: none.\n", list.Output);
    }

    [Fact]
    public async Task Remove_by_filters_deletes_what_list_shows_with_the_same_filters()
    {
        await SeedAsync();

        var pendingOfNear = await _run.RunAsync("greylist", "remove", "--client", "203.0.113.0/24", "--pending");
        var allOfExampleOrg = await _run.RunAsync("greylist", "remove", "--sender", "@example.org");
        var left = await _run.RunAsync("greylist", "list", "--json");

        Assert.Equal((0, "Removed 1 triplet(s) and 0 auto-whitelist entries.\n", ""), pendingOfNear);
        Assert.Equal((0, "Removed 2 triplet(s) and 1 auto-whitelist entry.\n", ""), allOfExampleOrg);
        using var json = JsonDocument.Parse(left.Output);
        Assert.Equal(["dave@other.example"], json.RootElement.GetProperty("triplets").EnumerateArray().Select(t => t.GetProperty("sender").GetString()));
        Assert.Empty(json.RootElement.GetProperty("autoWhitelist").EnumerateArray());
    }

    [Fact]
    public async Task Remove_by_one_senders_address_leaves_the_domains_auto_whitelist_alone()
    {
        await SeedAsync();

        var carol = await _run.RunAsync("greylist", "remove", "--sender", "carol@example.org");
        var left = await _run.RunAsync("greylist", "list", "--json");

        // The auto-whitelist entry (203.0.113.0/24, example.org) stays: it is every example.org sender's.
        Assert.Equal((0, "Removed 1 triplet(s) and 0 auto-whitelist entries.\n", ""), carol);
        using var json = JsonDocument.Parse(left.Output);
        Assert.Equal("example.org", Assert.Single(json.RootElement.GetProperty("autoWhitelist").EnumerateArray()).GetProperty("senderDomain").GetString());
    }

    [Theory]
    [InlineData(new string[0], "Say what to remove: an allow entry (CIDR or domain), or at least one filter.")]
    [InlineData(new[] { "192.0.2.0/24", "--pending" }, "Give either an allow entry to remove or filters")]
    [InlineData(new[] { "not_a domain" }, "'not_a domain' is neither an IP address or CIDR network")]
    public async Task Remove_needs_exactly_one_kind_of_target(string[] arguments, string message)
    {
        await SeedAsync();

        var (exit, _, error) = await _run.RunAsync(["greylist", "remove", .. arguments]);
        var list = await _run.RunAsync("greylist", "list", "--json");

        Assert.Equal(1, exit);
        Assert.Contains(message, error, StringComparison.Ordinal);
        using var json = JsonDocument.Parse(list.Output);
        Assert.Equal(4, json.RootElement.GetProperty("triplets").GetArrayLength());
    }

    [Fact]
    public async Task Purge_deletes_expired_rows_now_and_says_how_many()
    {
        await SeedAsync();
        await _run.RunAsync("greylist", "allow", "partner.example", "--for", "1h");
        _run.Time.Advance(TimeSpan.FromHours(6));

        var first = await _run.RunAsync("greylist", "purge");
        var second = await _run.RunAsync("greylist", "purge");
        var stats = await _run.RunAsync("greylist", "stats", "--json");

        Assert.Equal((0, "Purged 3 expired row(s).\n", ""), first);
        Assert.Equal((0, "Purged 0 expired row(s).\n", ""), second);
        using var json = JsonDocument.Parse(stats.Output);
        Assert.Equal((0, 2, 0), (json.RootElement.GetProperty("pending").GetInt32(), json.RootElement.GetProperty("passed").GetInt32(),
            json.RootElement.GetProperty("expired").GetInt32()));
    }
}
