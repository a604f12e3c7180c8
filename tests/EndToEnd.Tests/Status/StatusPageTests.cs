using System.Diagnostics;
using System.Globalization;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using EndToEnd.Tests.Support;
using Milter.TestSupport;
using Xunit.Abstractions;

namespace EndToEnd.Tests.Status;

/// <summary>
/// The status page, <c>/metrics</c>, <c>/api/summary</c> and <c>milterhost stats</c> of a real daemon
/// behind a real sendmail, checked against the traffic <see cref="StatusFixture"/> sent; the page is
/// loaded in Debian's headless Chromium, its DOM read back and a screenshot kept as an artifact.
/// </summary>
public sealed partial class StatusPageTests(StatusFixture fixture, ITestOutputHelper output) : IClassFixture<StatusFixture>
{
    private static readonly TimeSpan BrowserBound = TimeSpan.FromSeconds(90);

    [Fact]
    public async Task Page_in_a_real_browser_shows_the_numbers_of_the_traffic_sent()
    {
        AptPackages.EnsureInstalled("chromium", "fonts-dejavu-core");
        var artifacts = Path.Combine(Repository.Root, "TestResults", "status");
        Directory.CreateDirectory(artifacts);
        var screenshot = Path.Combine(artifacts, "status-page.png");
        File.Delete(screenshot);

        var dom = await ChromiumAsync("--dump-dom");
        await ChromiumAsync("--screenshot=" + screenshot, "--window-size=1200,1600");
        output.WriteLine($"status page screenshot: {screenshot}");
        await File.WriteAllTextAsync(Path.Combine(artifacts, "status-page.html"), dom);
        if (Environment.GetEnvironmentVariable("MILTERHOST_UPDATE_DOCS") == "1")
            File.Copy(screenshot, Path.Combine(Repository.Root, "docs", "status-page.png"), overwrite: true);

        Assert.True(new FileInfo(screenshot).Length > 10_000, "the screenshot is a real picture");
        var resident = double.Parse(Id(dom, "memory-resident"), CultureInfo.InvariantCulture);
        var kernelResident = ProcessStats.Sample(fixture.Daemon.Pid).RssMiB;
        Assert.InRange(resident, kernelResident * 0.8, kernelResident * 1.25);
        Assert.InRange(double.Parse(Id(dom, "memory-peak"), CultureInfo.InvariantCulture), resident, 4096);
        Assert.Equal(
            ("1", "5", "3", "0"),
            (Id(dom, "total-accept"), Id(dom, "total-reject"), Id(dom, "total-tempfail"), Id(dom, "total-discard")));
        Assert.Equal(("2", "2", "1", "0"), (Id(dom, "funnel-first"), Id(dom, "funnel-retries"), Id(dom, "funnel-passed"), Id(dom, "funnel-never")));
        Assert.Equal("50%", Id(dom, "greylist-pass-rate"));
        Assert.Equal("1", Id(dom, "bans-active"));
        Assert.Matches("""<svg id="hourly"[^>]* data-total="9">""", dom);
        Assert.Matches("""<tr data-network="127\.0\.0\.0/24" data-count="5" data-banned="yes"><td>127\.0\.0\.0/24</td><td class="n">5</td><td><span class="yes">yes</span> 127\.0\.0\.99/32</td></tr>""", dom);
        Assert.Matches("""<tr data-domain="spam\.example" data-count="3">""", dom);
        Assert.Matches("""<tr data-domain="elsewhere\.example" data-count="2">""", dom);
        Assert.Equal(
            [("accept", "-", "-", 1), ("tempfail", "greylist", "greylist:early", 1), ("tempfail", "greylist", "greylist:new", 2),
             ("reject", "ban", "ban#1 (line 10)", 3), ("reject", "relay", "relay", 2)],
            RecentRows(dom).GroupBy(r => r).Select(g => (g.Key.Verdict, g.Key.Filter, g.Key.Rule, g.Count()))
                .OrderBy(r => r.Verdict == "accept" ? 0 : r.Verdict == "tempfail" ? 1 : 2).ThenBy(r => r.Filter, StringComparer.Ordinal)
                .ThenBy(r => r.Rule, StringComparer.Ordinal));
    }

    [Fact]
    public async Task Metrics_count_the_sessions_messages_and_decisions_sent()
    {
        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(20) };
        var metrics = await http.GetStringAsync(new Uri(fixture.StatusUrl, "metrics"));

        foreach (var (series, value) in (ValueTuple<string, double>[])[
                     ("milterhost_sessions_total", 9),
                     ("milterhost_messages_total", 9),
                     ("milterhost_decisions_total{filter=\"ban\",verdict=\"reject\",mode=\"enforce\"}", 3),
                     ("milterhost_decisions_total{filter=\"relay\",verdict=\"reject\",mode=\"enforce\"}", 2),
                     ("milterhost_decisions_total{filter=\"greylist\",verdict=\"tempfail\",mode=\"enforce\"}", 3),
                     ("milterhost_decisions_total{filter=\"-\",verdict=\"accept\",mode=\"enforce\"}", 1),
                     ("milterhost_stage_duration_seconds_count{stage=\"connect\"}", 9),
                     ("milterhost_stage_duration_seconds_count{stage=\"eom\"}", 1),
                     ("milterhost_greylist_triplets{state=\"pending\"}", 1),
                     ("milterhost_greylist_triplets{state=\"passed\"}", 1),
                     ("milterhost_dynamic_bans_active", 1),
                     ("milterhost_config_generation", 1),
                     ("milterhost_store_errors_total{kind=\"write\"}", 0),
                 ])
        {
            Assert.True(Value(metrics, series) == value, $"{series}: expected {value}\n{metrics}");
        }
        Assert.True(Value(metrics, "milterhost_store_operation_duration_seconds_count{kind=\"write\"}") >= 4);
    }

    [Fact]
    public async Task Metrics_give_the_daemons_memory_descriptors_and_collections_as_the_kernel_sees_them()
    {
        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(20) };
        var metrics = await http.GetStringAsync(new Uri(fixture.StatusUrl, "metrics"));
        var pid = fixture.Daemon.Pid;
        var kernel = ProcessStats.Sample(pid);
        double rss = kernel.RssKiB * 1024.0, peak = kernel.PeakRssKiB * 1024.0;

        // The daemon idles between the scrape and the reads: the figures move by little.
        Assert.InRange(Value(metrics, "process_resident_memory_bytes"), rss * 0.8, rss * 1.25);
        // VmHWM is the larger of the recorded high-water mark and the resident size at the moment it is
        // read, and the kernel records the mark only now and then: a page freed between the scrape and
        // this read makes the later VmHWM the smaller one.
        Assert.InRange(Value(metrics, "milterhost_resident_memory_peak_bytes"), peak * 0.8, peak * 1.05);
        Assert.InRange(Value(metrics, "process_open_fds"), Directory.GetFileSystemEntries($"/proc/{pid}/fd").Length - 3, Directory.GetFileSystemEntries($"/proc/{pid}/fd").Length + 3);
        var limit = File.ReadLines($"/proc/{pid}/limits").Single(l => l.StartsWith("Max open files", StringComparison.Ordinal))["Max open files".Length..]
            .Split(' ', StringSplitOptions.RemoveEmptyEntries)[0];
        Assert.Equal(double.Parse(limit, CultureInfo.InvariantCulture), Value(metrics, "process_max_fds"));
        Assert.InRange(Value(metrics, "process_start_time_seconds"), DateTimeOffset.UtcNow.AddMinutes(-30).ToUnixTimeSeconds(), DateTimeOffset.UtcNow.ToUnixTimeSeconds());
        Assert.True(Value(metrics, "process_cpu_seconds_total") > 0);
        Assert.True(Value(metrics, "dotnet_gc_heap_total_allocated_bytes_total") > 1_000_000);
        Assert.True(Value(metrics, "dotnet_gc_last_collection_memory_committed_size_bytes") < rss);
    }

    [Fact]
    public async Task Summary_and_stats_json_agree_with_each_other_and_with_the_traffic()
    {
        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(20) };
        string summary, stats;
        var attempt = 0;
        do
        {
            // The summary first: it writes the daemon's waiting tally, which stats then reads from the database.
            summary = await http.GetStringAsync(new Uri(fixture.StatusUrl, "api/summary"));
            var (exit, stdout, stderr) = await MilterHostProcess.RunToEndAsync(["stats", "--json", "--config", fixture.ConfigPath]);
            Assert.True(exit == 0, stderr);
            stats = stdout;
        }
        // A minute boundary between the two moves the window; then ask again once the daemon's
        // summary cache (5 s) has let go of the old window.
        while (summary != stats && ++attempt < 3 && await Task.Delay(TimeSpan.FromSeconds(6)).ContinueWith(_ => true));

        Assert.Equal(summary, stats);
        var json = JsonNode.Parse(summary)!;
        Assert.Equal((1L, 5L, 3L), ((long)json["totals"]!["accept"]!, (long)json["totals"]!["reject"]!, (long)json["totals"]!["tempfail"]!));
        var greylist = json["greylist"]!;
        Assert.Equal((2L, 2L, 1L, 0.5), ((long)greylist["first_attempts"]!, (long)greylist["retries"]!, (long)greylist["passed"]!, (double)greylist["pass_rate"]!));
        var median = (double)greylist["median_delay_seconds"]!;
        Assert.InRange(median, StatusFixture.Delay.TotalSeconds, Math.Ceiling(fixture.Waited.TotalSeconds) + 1);
        Assert.Equal("127.0.0.0/24", (string?)json["top_refused_networks"]![0]!["network"]);

        var (textExit, text, _) = await MilterHostProcess.RunToEndAsync(["stats", "--since", "2h", "--config", fixture.ConfigPath]);
        Assert.Equal(0, textExit);
        Assert.Contains("Totals: accept 1, reject 5, tempfail 3, discard 0\n", text, StringComparison.Ordinal);
        Assert.Matches(@"\n127\.0\.0\.0/24 +5  yes \(127\.0\.0\.99/32\)\n", text);
    }

    private async Task<string> ChromiumAsync(params string[] arguments)
    {
        var profile = Directory.CreateTempSubdirectory("milterhost-chromium-").FullName;
        try
        {
            var start = new ProcessStartInfo("chromium")
            {
                RedirectStandardOutput = true,
                RedirectStandardError = true,
                UseShellExecute = false,
            };
            foreach (var argument in (string[])["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                         "--disable-sync", "--no-first-run", "--user-data-dir=" + profile, .. arguments, fixture.StatusUrl.ToString()])
            {
                start.ArgumentList.Add(argument);
            }
            using var chromium = Process.Start(start) ?? throw new InvalidOperationException("chromium did not start");
            var stdout = chromium.StandardOutput.ReadToEndAsync();
            var stderr = chromium.StandardError.ReadToEndAsync();
            using var bound = new CancellationTokenSource(BrowserBound);
            try
            {
                await chromium.WaitForExitAsync(bound.Token);
            }
            catch (OperationCanceledException)
            {
                chromium.Kill(entireProcessTree: true);
                throw new TimeoutException($"chromium {string.Join(' ', arguments)} did not finish in {BrowserBound}: {await stderr}");
            }
            Assert.True(chromium.ExitCode == 0, $"chromium exited {chromium.ExitCode}: {await stderr}");
            return await stdout;
        }
        finally
        {
            Directory.Delete(profile, recursive: true);
        }
    }

    private static string Id(string dom, string id)
    {
        var match = Regex.Match(dom, $"""id="{Regex.Escape(id)}">([^<]*)<""");
        Assert.True(match.Success, $"no element with id {id} in the page");
        return match.Groups[1].Value;
    }

    private static List<(string Verdict, string Filter, string Rule)> RecentRows(string dom) =>
        [.. RecentRow().Matches(dom).Select(m => (m.Groups[1].Value, m.Groups[2].Value, System.Net.WebUtility.HtmlDecode(m.Groups[3].Value)))];

    [GeneratedRegex("""<tr data-verdict="([^"]*)" data-mode="enforce" data-filter="([^"]*)" data-rule="([^"]*)"><td>""")]
    private static partial Regex RecentRow();

    private static double Value(string metrics, string series)
    {
        var line = metrics.Split('\n').SingleOrDefault(l => l.StartsWith(series + " ", StringComparison.Ordinal));
        Assert.True(line is not null, $"no {series} in\n{metrics}");
        return double.Parse(line[(series.Length + 1)..], CultureInfo.InvariantCulture);
    }
}
