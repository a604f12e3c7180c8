using System.Text.Json;

namespace MilterHost.Tests.LogScan;

/// <summary>Daily <c>logscan --apply</c> runs count each line once: the state file remembers where the last run stopped.</summary>
public sealed class LogScanStateTests : IDisposable
{
    private static readonly DateTimeOffset Now = new(2026, 11, 28, 12, 0, 0, TimeSpan.Zero);
    private readonly LogScanRun _run = new(Now);

    public void Dispose() => _run.Dispose();

    private static string Refusal(int minute, string client = "192.0.2.40") =>
        $"Nov 28 {minute / 60 + 6:00}:{minute % 60:00}:00 mx1 sm-mta[{900 + minute}]: sAS0600a{900 + minute:000000}: ruleset=check_rcpt, arg1=<m{minute}@b.example>, relay=[{client}], reject=550 5.7.1 <m{minute}@b.example>... Relaying denied";

    private static void Append(string path, params string[] lines) => File.AppendAllText(path, string.Join('\n', lines) + "\n");

    [Fact]
    public async Task Apply_keeps_its_place_so_a_second_run_counts_only_the_new_lines()
    {
        var log = _run.Write("maillog", Refusal(0), Refusal(1), Refusal(2));

        var first = await _run.JsonAsync("--log", log, "--apply", "--threshold", "1");
        Append(log, Refusal(3), Refusal(4));
        var second = await _run.JsonAsync("--log", log, "--apply", "--threshold", "1");

        Assert.Equal(3, first.GetProperty("events").GetInt32());
        Assert.Equal(2, second.GetProperty("events").GetInt32());
        Assert.Equal(2, second.GetProperty("lines").GetInt32());
        Assert.True(File.Exists(_run.StatePath));
    }

    [Fact]
    public async Task A_rotated_log_is_read_to_its_end_and_the_new_file_from_its_start()
    {
        var log = _run.Write("maillog", Refusal(0), Refusal(1), Refusal(2));
        await _run.JsonAsync("--log", log, "--apply", "--threshold", "1");

        // syslog writes one more line, then logrotate renames the file and a new one begins.
        Append(log, Refusal(3));
        File.Move(log, _run.PathOf("maillog.1"));
        _run.Write("maillog", Refusal(4), Refusal(5));
        var second = await _run.JsonAsync("--log", log, "--apply", "--threshold", "1");

        Assert.Equal(3, second.GetProperty("events").GetInt32());
        Append(log, Refusal(6));
        var third = await _run.JsonAsync("--log", log, "--apply", "--threshold", "1");
        Assert.Equal(1, third.GetProperty("events").GetInt32());
    }

    [Fact]
    public async Task A_truncated_log_is_read_from_its_start()
    {
        var log = _run.Write("maillog", Refusal(0), Refusal(1), Refusal(2));
        await _run.JsonAsync("--log", log, "--apply", "--threshold", "1");

        // copytruncate: same file, emptied, then written again.
        File.WriteAllText(log, Refusal(3) + "\n");
        var second = await _run.JsonAsync("--log", log, "--apply", "--threshold", "1");

        Assert.Equal(1, second.GetProperty("events").GetInt32());
    }

    [Fact]
    public async Task A_line_still_being_written_is_left_for_the_next_run()
    {
        var log = _run.Write("maillog", Refusal(0));
        File.AppendAllText(log, Refusal(1)[..40]);

        var first = await _run.JsonAsync("--log", log, "--apply", "--threshold", "1");
        File.AppendAllText(log, Refusal(1)[40..] + "\n");
        var second = await _run.JsonAsync("--log", log, "--apply", "--threshold", "1");

        Assert.Equal(1, first.GetProperty("events").GetInt32());
        Assert.Equal(1, second.GetProperty("events").GetInt32());
        Assert.Equal(0, second.GetProperty("unrecognised").GetInt32());
    }

    [Fact]
    public async Task Since_still_drops_new_lines_older_than_the_window()
    {
        var log = _run.Write("maillog", Refusal(0));
        await _run.JsonAsync("--log", log, "--apply", "--threshold", "1");

        // Written late but stamped 05:00 and 11:00: only the second lies inside the last 2 hours.
        Append(log, Refusal(-60), Refusal(300));
        var second = await _run.JsonAsync("--log", log, "--apply", "--threshold", "1", "--since", "2h");

        Assert.Equal(1, second.GetProperty("events").GetInt32());
        Assert.Equal(1, second.GetProperty("outsideWindow").GetInt32());
    }

    [Fact]
    public async Task Without_apply_or_with_state_none_nothing_is_remembered()
    {
        var log = _run.Write("maillog", Refusal(0), Refusal(1));

        await _run.JsonAsync("--log", log, "--threshold", "1");
        await _run.JsonAsync("--log", log, "--threshold", "1", "--apply", "--state", "none");
        var again = await _run.JsonAsync("--log", log, "--threshold", "1");

        Assert.False(File.Exists(_run.StatePath));
        Assert.Equal(2, again.GetProperty("events").GetInt32());
    }

    [Theory]
    [InlineData("{ not json")]
    // Well-formed JSON that no run wrote.
    [InlineData("{\"files\": null}")]
    [InlineData("{\"files\": {\"PATH\": null}}")]
    [InlineData("{\"files\": {\"PATH\": {\"device\": DEVICE, \"inode\": INODE, \"offset\": -5}}}")]
    public async Task A_broken_state_file_is_reported_and_replaced(string state)
    {
        var log = _run.Write("maillog", Refusal(0), Refusal(1));
        Assert.True(MilterHost.Native.Posix.TryStatusOfPath(log, out var status));
        File.WriteAllText(_run.StatePath, state.Replace("PATH", log)
            .Replace("DEVICE", status.Id.Device.ToString(System.Globalization.CultureInfo.InvariantCulture))
            .Replace("INODE", status.Id.Inode.ToString(System.Globalization.CultureInfo.InvariantCulture)));

        var (exit, output, error) = await _run.RunAsync("--log", log, "--threshold", "1", "--apply", "--json");
        var again = await _run.JsonAsync("--log", log, "--threshold", "1", "--apply");

        Assert.Equal(0, exit);
        Assert.StartsWith($"logscan: ignoring the state file: {_run.StatePath}: not a logscan state file", error, StringComparison.Ordinal);
        Assert.Equal(2, JsonDocument.Parse(output).RootElement.GetProperty("events").GetInt32());
        Assert.Equal(0, again.GetProperty("events").GetInt32());
    }

    [Fact]
    public void Saving_never_writes_through_a_link_planted_as_the_temporary_or_the_state_file()
    {
        // Run as root in a folder the daemon's user may write: links planted there must not make root write elsewhere.
        var victim = _run.Write("victim", "precious");
        File.CreateSymbolicLink(_run.StatePath + ".new", victim);
        File.CreateSymbolicLink(_run.StatePath, victim);

        new MilterHost.Tools.LogScan.LogScanState { JournalCursor = "s=1" }.Save(_run.StatePath);

        Assert.Equal("precious\n", File.ReadAllText(victim));
        Assert.Null(new FileInfo(_run.StatePath).LinkTarget);
        Assert.Equal("s=1", MilterHost.Tools.LogScan.LogScanState.Load(_run.StatePath).JournalCursor);
        Assert.False(File.Exists(_run.StatePath + ".new"));
    }
}
