using System.CommandLine;
using System.Diagnostics;
using System.Net;
using System.Net.Http.Headers;
using System.Text.Json.Nodes;
using Microsoft.Data.Sqlite;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Time.Testing;
using Milter.Filters;
using Milter.Filters.Stores;
using System.Net.Sockets;
using Milter.Protocol.Client;
using Milter.Protocol.Commands;
using Milter.Protocol.Replies;
using Milter.Protocol.Server;
using Milter.TestSupport;
using MilterHost.Commands;
using MilterHost.Configuration;
using MilterHost.Hosting;
using MilterHost.Status;

namespace MilterHost.Tests.Status;

/// <summary>
/// The status listener in-process on a real SQLite store and a real Kestrel port, fed by a real
/// filter chain through <see cref="MeasuredHandler"/> behind a real milter socket: the token, <c>/metrics</c>, <c>/api/summary</c>
/// against <c>stats --json</c>, and the page.
/// </summary>
public sealed class StatusServerTests : IAsyncLifetime
{
    private const string Token = "t0ken-for-tests";
    private readonly ConfigDirectory _dir = new();
    private readonly FakeTimeProvider _clock = new(new DateTimeOffset(2026, 3, 2, 9, 30, 0, TimeSpan.Zero));
    private readonly HttpClient _http = new() { Timeout = TimeSpan.FromSeconds(20) };
    private LoadedConfig _config = null!;
    private MilterStores _stores = null!;
    private StatusFeed _feed = null!;
    private StatusServer _server = null!;
    private IDecisionSink _sink = null!;
    private int _port;
    private MilterServer? _milter;
    private Task _serving = Task.CompletedTask;
    private MilterClient? _idle;
    private readonly CancellationTokenSource _stopMilter = new();

    public async Task InitializeAsync()
    {
        _port = FreePort.Next();
        _config = Load("");
        // A long busy timeout: a test holds the write lock for as long as it needs requests to wait.
        _stores = await StoreFactory.OpenAsync(_config.Options.Database, _clock, options: new StoreOptions { BusyTimeout = TimeSpan.FromSeconds(60) });
        var metrics = new DaemonMetrics("9.9.9");
        _stores.Observer = metrics;
        var recent = new RecentDecisions(_clock);
        _feed = new StatusFeed(_stores.Tally, metrics, recent);
        _sink = new CompositeDecisionSink(_feed);
        var sources = new StatusSources(_stores, () => _config.Options, () => 3, () => _milter?.ActiveConnections ?? 0, metrics, recent, _clock, "9.9.9");
        metrics.Bind(sources);
        _server = await StatusServer.StartAsync(StatusServer.ParseEndpoint(_config.Options.Status!.Listen), Token, sources,
            NullLoggerFactory.Instance, default);
    }

    /// <summary>The fixture's configuration, with <paramref name="extra"/> added at the top level (<c>mode: monitor</c>).</summary>
    private LoadedConfig Load(string extra)
    {
        var loaded = _dir.Load($$"""
            listen: unix:milter.sock
            database: sqlite:{{_dir.Path}}/mh.db
            log: { syslog: false }
            local_domains: [example.com]
            relay: { allow_clients: [] }
            recipients: { reject_unknown: false }
            ban:
              - sender: "*@spam.example"
            greylist: { enabled: false }
            status: { listen: "127.0.0.1:{{_port}}", token: "{{Token}}" }
            dns: { servers: ["127.0.0.1:9"] }
            {{extra}}
            """, out _);
        Assert.True(loaded.Success, string.Join("\n", loaded.Errors));
        return loaded.Config;
    }

    public async Task DisposeAsync()
    {
        if (_idle is not null)
            await _idle.DisposeAsync();
        await _stopMilter.CancelAsync();
        await _serving;
        _stopMilter.Dispose();
        await _server.DisposeAsync();
        await _stores.DisposeAsync();
        _http.Dispose();
        _dir.Dispose();
    }

    [Theory]
    [InlineData("/")]
    [InlineData("/metrics")]
    [InlineData("/api/summary")]
    [InlineData("/nowhere")]
    public async Task Every_request_without_the_right_bearer_token_gets_401(string path)
    {
        using var none = await _http.GetAsync(Url(path));
        using var wrong = await SendAsync(path, "Bearer not-the-token");
        using var basic = await SendAsync(path, "Basic " + Convert.ToBase64String("a:b"u8.ToArray()));

        Assert.Equal([HttpStatusCode.Unauthorized, HttpStatusCode.Unauthorized, HttpStatusCode.Unauthorized], [none.StatusCode, wrong.StatusCode, basic.StatusCode]);
        Assert.Equal("Bearer realm=\"milterhost\"", none.Headers.WwwAuthenticate.ToString());
        Assert.DoesNotContain("milterhost_", await none.Content.ReadAsStringAsync(), StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("bearer")]
    [InlineData("BEARER")]
    [InlineData("Bearer ")]
    public async Task The_bearer_scheme_is_read_in_any_case(string scheme)
    {
        using var response = await SendAsync("/api/summary", $"{scheme} {Token}");
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
    }

    [Theory]
    [InlineData("rebind.attacker.example", false)]
    [InlineData("mx1.example.com", false)]
    [InlineData("localhost", true)]
    [InlineData("LOCALHOST.", true)]
    [InlineData("127.0.0.1", true)]
    [InlineData("[::1]", true)]
    [InlineData("192.0.2.7", true)]
    public void Without_a_token_only_an_address_or_localhost_may_be_the_host(string host, bool answered)
    {
        Assert.Equal(answered, StatusRequests.NamesThisHost(host));
    }

    [Fact]
    public async Task A_listener_without_a_token_refuses_a_host_name_dns_rebinding_could_point_at_it()
    {
        var port = FreePort.Next();
        await using var open = await StatusServer.StartAsync(new IPEndPoint(IPAddress.Loopback, port), null,
            new StatusSources(_stores, () => _config.Options, () => 1, () => 0, new DaemonMetrics("x"), new RecentDecisions(_clock), _clock, "x"),
            NullLoggerFactory.Instance, default);

        using var rebound = new HttpRequestMessage(HttpMethod.Get, $"http://127.0.0.1:{port}/api/summary");
        rebound.Headers.Host = $"rebind.attacker.example:{port}";
        using var refused = await _http.SendAsync(rebound);
        using var direct = await _http.GetAsync($"http://127.0.0.1:{port}/api/summary");

        Assert.Equal(HttpStatusCode.MisdirectedRequest, refused.StatusCode);
        Assert.DoesNotContain("totals", await refused.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        Assert.Equal(HttpStatusCode.OK, direct.StatusCode);
    }

    [Fact]
    public async Task Unknown_paths_are_404_and_other_methods_405_with_the_token()
    {
        using var missing = await SendAsync("/nowhere", "Bearer " + Token);
        using var post = await SendAsync("/metrics", "Bearer " + Token, HttpMethod.Post);

        Assert.Equal((HttpStatusCode.NotFound, HttpStatusCode.MethodNotAllowed), (missing.StatusCode, post.StatusCode));
    }

    [Fact]
    public async Task Metrics_count_the_traffic_the_chain_handled()
    {
        await SendTrafficAsync();

        var text = await GetAsync("/metrics");

        Assert.Contains("# TYPE milterhost_decisions_total counter", text, StringComparison.Ordinal);
        foreach (var line in (string[])[
                     "milterhost_build_info{version=\"9.9.9\"} 1",
                     "milterhost_sessions_total 4",
                     "milterhost_messages_total 4",
                     "milterhost_decisions_total{filter=\"relay\",verdict=\"reject\",mode=\"enforce\"} 1",
                     "milterhost_decisions_total{filter=\"ban\",verdict=\"reject\",mode=\"enforce\"} 2",
                     "milterhost_decisions_total{filter=\"-\",verdict=\"accept\",mode=\"enforce\"} 1",
                     "milterhost_stage_duration_seconds_count{stage=\"connect\"} 4",
                     "milterhost_stage_duration_seconds_count{stage=\"rcpt\"} 2",
                     "milterhost_stage_duration_seconds_count{stage=\"eom\"} 1",
                     "milterhost_connections_open 1",
                     "milterhost_config_generation 3",
                     "milterhost_greylist_triplets{state=\"pending\"} 0",
                     "milterhost_dynamic_bans_active 1",
                     "milterhost_store_errors_total{kind=\"write\"} 0",
                     "milterhost_tally_dropped_total 0",
                     "milterhost_status_scrape_store_ok 1",
                 ])
        {
            Assert.Contains("\n" + line + "\n", text, StringComparison.Ordinal);
        }
        // The ban was one write; the scrape itself read the table sizes and the ban list.
        Assert.Equal(1, Value(text, "milterhost_store_operation_duration_seconds_count{kind=\"write\"}"));
        Assert.True(Value(text, "milterhost_store_operation_duration_seconds_count{kind=\"read\"}") >= 2);
    }

    [Fact]
    public async Task Metrics_count_the_greylist_checks_the_key_filter_answered_without_a_read()
    {
        var options = new Milter.Filters.Configuration.GreylistOptions();
        Task<Milter.Filters.Greylist.GreylistResult> CheckAsync(string sender) => _stores.Greylist.Check.CheckAsync(
            Milter.Filters.Greylist.Triplet.Create("net:192.0.2.0/24", sender, "bob@example.com"), IPAddress.Parse("192.0.2.1"),
            _clock.GetUtcNow(), options, default);

        await CheckAsync("before-the-poll@example.org");
        var before = await GetAsync("/metrics");
        await _stores.RefreshChangedAsync(default);
        await CheckAsync("first@example.org");
        await CheckAsync("second@example.org");
        var after = await GetAsync("/metrics");

        Assert.Contains("\nmilterhost_greylist_reads_skipped_total 0\n", before, StringComparison.Ordinal);
        Assert.Contains("\nmilterhost_greylist_reads_skipped_total 2\n", after, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Summary_is_the_json_of_stats_for_the_same_store()
    {
        await SendTrafficAsync();

        var summary = await GetAsync("/api/summary");
        var stdout = new StringWriter { NewLine = "\n" };
        var stderr = new StringWriter { NewLine = "\n" };
        var root = new RootCommand { StatsCommand.Create(_clock) };
        var exit = await root.Parse(["stats", "--json", "--config", _config.Path]).InvokeAsync(new InvocationConfiguration { Output = stdout, Error = stderr });

        Assert.Equal((0, ""), (exit, stderr.ToString()));
        Assert.Equal(summary, stdout.ToString());
        var json = JsonNode.Parse(summary)!;
        Assert.Equal("2026-03-01T09:31:00Z", (string?)json["window"]!["from"]);
        Assert.Equal((1L, 3L, 0L), ((long)json["totals"]!["accept"]!, (long)json["totals"]!["reject"]!, (long)json["totals"]!["tempfail"]!));
        var network = json["top_refused_networks"]![0]!;
        Assert.Equal(("203.0.113.0/24", 2L, true), ((string?)network["network"], (long)network["count"]!, (bool)network["banned"]!));
        Assert.Equal("spam.example", (string?)json["top_refused_sender_domains"]![0]!["domain"]);
        Assert.Equal(1L, (long)json["dynamic_bans_active"]!);
    }

    [Theory]
    [InlineData("36d")]
    [InlineData("400d")]
    public async Task Stats_refuses_a_window_longer_than_the_tally_is_kept(string window)
    {
        var stderr = new StringWriter { NewLine = "\n" };
        var root = new RootCommand { StatsCommand.Create(_clock) };
        var exit = await root.Parse(["stats", "--since", window, "--config", _config.Path]).InvokeAsync(new InvocationConfiguration { Output = new StringWriter(), Error = stderr });

        Assert.NotEqual(0, exit);
        Assert.Contains("--since: at most 35d: the tally is kept that long", stderr.ToString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Page_shows_the_totals_the_chart_the_networks_and_the_recent_decisions()
    {
        await SendTrafficAsync();

        var page = await GetAsync("/");

        Assert.StartsWith("<!DOCTYPE html>", page, StringComparison.Ordinal);
        Assert.Contains("<meta http-equiv=\"refresh\" content=\"60\">", page, StringComparison.Ordinal);
        Assert.Contains("<div class=\"value\" id=\"total-reject\">3</div>", page, StringComparison.Ordinal);
        Assert.Contains("<div class=\"value\" id=\"total-accept\">1</div>", page, StringComparison.Ordinal);
        Assert.Contains("<svg id=\"hourly\" viewBox=\"0 0 960 260\" role=\"img\" aria-label=\"decisions per hour by verdict\" data-total=\"4\">", page, StringComparison.Ordinal);
        Assert.Contains("<g data-hour=\"2026-03-02T09\" data-total=\"4\">", page, StringComparison.Ordinal);
        Assert.Contains("<tr data-network=\"203.0.113.0/24\" data-count=\"2\" data-banned=\"yes\">", page, StringComparison.Ordinal);
        Assert.Contains("<tr data-verdict=\"reject\" data-mode=\"enforce\" data-filter=\"relay\" data-rule=\"relay\">", page, StringComparison.Ordinal);
        Assert.DoesNotContain("http://", page.Replace("http-equiv", "", StringComparison.Ordinal), StringComparison.Ordinal);
        Assert.DoesNotContain("<script", page, StringComparison.Ordinal);
    }

    [Fact]
    public async Task In_monitor_mode_the_metrics_the_summary_and_the_page_tell_what_was_not_applied()
    {
        _config = Load("mode: monitor");

        // The banned senders' messages go through; relay control stays enforced.
        await SendTrafficAsync(bannedSendersPass: true);
        _clock.Advance(StatusServer.SummaryLifetime);

        var metrics = await GetAsync("/metrics");
        var summary = JsonNode.Parse(await GetAsync("/api/summary"))!;
        var page = await GetAsync("/");

        foreach (var line in (string[])[
                     "milterhost_decisions_total{filter=\"relay\",verdict=\"reject\",mode=\"enforce\"} 1",
                     "milterhost_decisions_total{filter=\"ban\",verdict=\"reject\",mode=\"monitor\"} 2",
                     "milterhost_decisions_total{filter=\"-\",verdict=\"accept\",mode=\"enforce\"} 3"])
            Assert.Contains(line, metrics, StringComparison.Ordinal);
        Assert.DoesNotContain("milterhost_decisions_total{filter=\"ban\",verdict=\"reject\",mode=\"enforce\"}", metrics, StringComparison.Ordinal);
        Assert.Equal((3L, 1L), ((long)summary["totals"]!["accept"]!, (long)summary["totals"]!["reject"]!));
        // Only the relay attempt was refused: the monitored refusals are no refused network.
        Assert.Equal(["203.0.113.0/24"], summary["top_refused_networks"]!.AsArray().Select(n => (string?)n!["network"]));
        Assert.Contains("<tr data-verdict=\"reject\" data-mode=\"monitor\" data-filter=\"ban\" data-rule=\"ban#1 (line 8)\">", page, StringComparison.Ordinal);
        Assert.Contains("<td>monitor</td>", page, StringComparison.Ordinal);
        Assert.Contains("<tr data-filter=\"ban\" data-verdict=\"monitor:reject\"", page, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Summary_reads_the_database_once_per_lifetime_however_often_it_is_asked()
    {
        var before = await GetAsync("/api/summary");
        await SendTrafficAsync();

        // Within the lifetime: the same answer, and the decisions counted meanwhile are still waiting
        // in the tally, unwritten: the request neither wrote the tally nor ran the queries.
        var again = await GetAsync("/api/summary");
        var page = await GetAsync("/");
        Assert.Equal(before, again);
        Assert.Contains("<div class=\"value\" id=\"total-reject\">0</div>", page, StringComparison.Ordinal);
        Assert.Equal(4, _stores.Tally.Pending);

        _clock.Advance(StatusServer.SummaryLifetime);
        var after = JsonNode.Parse(await GetAsync("/api/summary"))!;
        Assert.Equal((1L, 3L), ((long)after["totals"]!["accept"]!, (long)after["totals"]!["reject"]!));
        Assert.Equal(0, _stores.Tally.Pending);
    }

    [Fact]
    public async Task Requests_past_the_bound_get_503_at_once_while_the_others_wait_for_the_database()
    {
        await SendTrafficAsync();
        List<Task<HttpResponseMessage>> waiting;
        // Another program holds the write lock: the summary's write of the waiting tally waits for it.
        await using (var other = new SqliteConnection($"Data Source={_dir.Path}/mh.db;Pooling=False"))
        {
            await other.OpenAsync();
            await using (var begin = other.CreateCommand())
            {
                begin.CommandText = "BEGIN EXCLUSIVE";
                await begin.ExecuteNonQueryAsync();
            }
            waiting = [.. Enumerable.Range(0, StatusServer.MaxConcurrentRequests).Select(_ => SendAsync("/api/summary", "Bearer " + Token))];
            var watch = Stopwatch.StartNew();
            while (_server.RequestsInFlight < StatusServer.MaxConcurrentRequests)
            {
                Assert.True(watch.Elapsed < TimeSpan.FromSeconds(20), $"{_server.RequestsInFlight} requests in flight");
                await Task.Delay(10);
            }

            watch.Restart();
            using var refused = await SendAsync("/metrics", "Bearer " + Token);
            var elapsed = watch.Elapsed;

            Assert.Equal(HttpStatusCode.ServiceUnavailable, refused.StatusCode);
            Assert.True(elapsed < TimeSpan.FromSeconds(2), $"the refusal took {elapsed}");
            Assert.Equal("5", refused.Headers.GetValues("Retry-After").Single());
            Assert.Equal($"503 Service Unavailable: {StatusServer.MaxConcurrentRequests} status requests are being served; try again in a few seconds\n",
                await refused.Content.ReadAsStringAsync());
            Assert.DoesNotContain(waiting, t => t.IsCompleted);
        }

        foreach (var response in await Task.WhenAll(waiting))
        {
            using (response)
                Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        }
        Assert.Contains("milterhost_sessions_total 4", await GetAsync("/metrics"), StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_taken_port_is_an_io_error_naming_the_address()
    {
        var error = await Assert.ThrowsAsync<IOException>(() => StatusServer.StartAsync(new IPEndPoint(IPAddress.Loopback, _port), null,
            new StatusSources(_stores, () => _config.Options, () => 1, () => 0, new DaemonMetrics("x"), new RecentDecisions(_clock), _clock, "x"),
            NullLoggerFactory.Instance, default));

        Assert.StartsWith($"status.listen 127.0.0.1:{_port}: ", error.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("127.0.0.1:8025", "127.0.0.1:8025")]
    [InlineData("localhost:9100", "127.0.0.1:9100")]
    [InlineData("[::1]:8025", "[::1]:8025")]
    [InlineData("0.0.0.0:8025", "0.0.0.0:8025")]
    public void Listen_address_becomes_the_endpoint_written(string listen, string endpoint) =>
        Assert.Equal(endpoint, StatusServer.ParseEndpoint(listen).ToString());

    // Four sessions over a real milter socket: a relay attempt, two banned senders, one message every
    // filter let through; then one dynamic ban. One more connection stays open while the test looks.
    private async Task SendTrafficAsync(bool bannedSendersPass = false)
    {
        var chain = new PolicyBuilder(_stores, _sink, _clock, NullLoggerFactory.Instance).BuildChain(_config);
        var path = Path.Combine(_dir.Path, "milter.sock");
        var listener = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        listener.Bind(new UnixDomainSocketEndPoint(path));
        listener.Listen();
        _milter = new MilterServer(listener, () => new MeasuredHandler(new ChainHandler(chain, _sink), _feed, _clock),
            () => PolicyBuilder.ServerOptions(_config.Options), _clock, NullLogger<MilterServer>.Instance);
        _serving = _milter.RunAsync(_stopMilter.Token);
        var endPoint = new UnixDomainSocketEndPoint(path);
        Assert.Equal(VerdictKind.Reject, await SessionAsync(endPoint, "203.0.113.77", "x@elsewhere.example", "victim@foreign.example"));
        var banned = bannedSendersPass ? VerdictKind.Continue : VerdictKind.Reject;
        Assert.Equal(banned, await SessionAsync(endPoint, "203.0.113.78", "a@spam.example", "alice@example.com"));
        Assert.Equal(banned, await SessionAsync(endPoint, "198.51.100.9", "b@spam.example", "alice@example.com"));
        Assert.Equal(VerdictKind.Continue, await SessionAsync(endPoint, "192.0.2.10", "friend@partner.example", "alice@example.com"));
        await _stores.Bans.AddAsync(new DynamicBan(new IPNetwork(IPAddress.Parse("203.0.113.77"), 32), "test", BanSource.Admin,
            _clock.GetUtcNow(), _clock.GetUtcNow().AddDays(1)), default);
        _idle = await MilterClient.ConnectAsync(endPoint);
        await _idle.NegotiateAsync();
        while (_milter.ActiveConnections != 1)
            await Task.Delay(10);
    }

    /// <summary>One SMTP session as sendmail plays it; the first final answer, or the end-of-message answer.</summary>
    private static async Task<VerdictKind> SessionAsync(EndPoint endPoint, string client, string from, string to)
    {
        await using var mta = await MilterClient.ConnectAsync(endPoint);
        await mta.NegotiateAsync();
        await mta.SendMacrosAsync('C', ("{client_addr}", client), ("{client_name}", $"[{client}]"));
        var answer = await mta.ConnectAsync($"[{client}]", ConnectFamily.Inet, 40000, client);
        if (answer.Kind != VerdictKind.Continue)
            return answer.Kind;
        await mta.HeloAsync("client.example.net");
        await mta.SendMacrosAsync('M', ("i", "Q" + client.Replace(".", "", StringComparison.Ordinal)));
        answer = await mta.MailAsync($"<{from}>");
        if (answer.Kind != VerdictKind.Continue)
            return answer.Kind;
        answer = await mta.RcptAsync($"<{to}>");
        if (answer.Kind != VerdictKind.Continue)
            return answer.Kind;
        await mta.DataAsync();
        await mta.HeaderAsync("Subject", "hello");
        await mta.EndOfHeadersAsync();
        await mta.BodyChunksAsync("Hello.\r\n"u8.ToArray());
        answer = await mta.EndOfMessageAsync();
        await mta.QuitAsync();
        return answer.Kind;
    }

    private string Url(string path) => $"http://127.0.0.1:{_port}{path}";

    private async Task<HttpResponseMessage> SendAsync(string path, string authorization, HttpMethod? method = null)
    {
        using var request = new HttpRequestMessage(method ?? HttpMethod.Get, Url(path));
        request.Headers.TryAddWithoutValidation("Authorization", authorization);
        return await _http.SendAsync(request);
    }

    private async Task<string> GetAsync(string path)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, Url(path));
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", Token);
        using var response = await _http.SendAsync(request);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        return await response.Content.ReadAsStringAsync();
    }

    private static double Value(string metrics, string series)
    {
        var line = metrics.Split('\n').Single(l => l.StartsWith(series + " ", StringComparison.Ordinal));
        return double.Parse(line[(series.Length + 1)..], System.Globalization.CultureInfo.InvariantCulture);
    }
}
