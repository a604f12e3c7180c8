using System.Text.Json;
using MilterHost.Tools.LogScan;

namespace MilterHost.Tests.LogScan;

/// <summary>
/// <c>logscan --journal</c> over <c>journalctl -o json</c> records (tests/.../Journal/sendmail-milterhost.json:
/// sendmail and milterhost entries as journald stores them, a local user's <c>logger -t sm-mta</c>, a
/// helper of the unit, a non-UTF-8 message and a doubled MESSAGE). No journald runs where the tests do,
/// so a stand-in journalctl prints the records after the cursor it is given and keeps its arguments.
/// </summary>
public sealed class LogScanJournalTests : IDisposable
{
    private static readonly DateTimeOffset Now = new(2026, 11, 28, 12, 0, 0, TimeSpan.Zero);
    private readonly LogScanRun _run = new(Now);
    private readonly string _arguments;

    public LogScanJournalTests()
    {
        var records = RepositoryRoot.Combine("tests", "MilterHost.Tests", "LogScan", "Journal", "sendmail-milterhost.json");
        _arguments = _run.PathOf("journalctl.args");
        var script = _run.Write("journalctl",
            "#!/bin/sh",
            $"printf '%s\\n' \"$@\" >> '{_arguments}'",
            "cursor=",
            "for a in \"$@\"; do case \"$a\" in --after-cursor=*) cursor=\"${a#--after-cursor=}\";; esac; done",
            $"if [ -z \"$cursor\" ]; then cat '{records}'; else awk -v c=\"\\\"__CURSOR\\\":\\\"$cursor\\\"\" 'seen {{ print }} index($0, c) {{ seen = 1 }}' '{records}'; fi");
        File.SetUnixFileMode(script, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        _run.Journalctl = script;
    }

    public void Dispose() => _run.Dispose();

    [Fact]
    public async Task Only_entries_of_sendmail_and_milterhost_by_the_journals_own_fields_count()
    {
        var root = await _run.JsonAsync("--journal", "--threshold", "1");

        // 192.0.2.66 (a user's logger), .67 (a helper in the unit, not root) and .68 (MESSAGE twice) name nobody.
        Assert.Equal(new Dictionary<string, int> { ["192.0.2.30"] = 4, ["192.0.2.31"] = 3 }, LogScanRun.Counts(root));
        Assert.Equal(15, root.GetProperty("lines").GetInt32());
        Assert.Equal(7, root.GetProperty("unrecognised").GetInt32());
        Assert.Equal(["journal"], root.GetProperty("files").EnumerateArray().Select(f => f.GetString()!).ToArray());
        var arguments = File.ReadAllLines(_arguments);
        Assert.Contains("--output=json", arguments);
        Assert.Contains("_SYSTEMD_UNIT=sendmail.service", arguments);
        Assert.Contains("_SYSTEMD_UNIT=milterhost.service", arguments);
        Assert.Contains($"--since=@{(Now - TimeSpan.FromHours(24)).ToUnixTimeSeconds()}", arguments);
    }

    [Fact]
    public async Task Without_a_log_file_the_journal_is_read()
    {
        _run.DefaultLogs = [_run.PathOf("maillog"), _run.PathOf("mail.log")];

        var root = await _run.JsonAsync("--threshold", "1");

        Assert.Equal(2, LogScanRun.Counts(root).Count);
    }

    [Fact]
    public async Task An_existing_default_log_is_read_instead_of_the_journal()
    {
        var log = _run.Write("mail.log",
            "Nov 28 06:00:00 mx1 sm-mta[1]: sAS0600a000001: [192.0.2.50] did not issue MAIL/EXPN/VRFY/ETRN during connection to MTA");
        _run.DefaultLogs = [_run.PathOf("maillog"), log];

        var root = await _run.JsonAsync("--threshold", "1");

        Assert.Equal(["192.0.2.50"], LogScanRun.Counts(root).Keys.ToArray());
        Assert.False(File.Exists(_arguments));
    }

    [Fact]
    public async Task Apply_keeps_the_cursor_and_the_next_run_starts_after_it()
    {
        await _run.JsonAsync("--journal", "--apply", "--threshold", "1");
        var second = await _run.JsonAsync("--journal", "--apply", "--threshold", "1");

        var state = JsonDocument.Parse(File.ReadAllText(_run.StatePath)).RootElement;
        var cursor = state.GetProperty("journalCursor").GetString()!;
        Assert.StartsWith("s=5f2d0a8c1b7e4c9fa3e2d1c0b9a8f7e6;i=4a1f;", cursor, StringComparison.Ordinal);
        Assert.Contains("--after-cursor=" + cursor, File.ReadAllLines(_arguments));
        Assert.Equal(0, second.GetProperty("lines").GetInt32());
        Assert.Equal(2, _run.Store.All.Count);
    }

    [Fact]
    public async Task An_empty_journal_on_a_first_read_is_a_warning_and_an_empty_read_after_a_cursor_is_not()
    {
        var empty = _run.Write("empty-journalctl", "#!/bin/sh", "exit 0");
        File.SetUnixFileMode(empty, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        var real = _run.Journalctl;
        _run.Journalctl = empty;

        var (exit, output, error) = await _run.RunAsync("--journal");

        Assert.Equal(0, exit);
        Assert.Equal("logscan: the journal has no entries of sendmail.service or milterhost.service since 2026-11-27 12:00:00 +00:00: "
            + "if sendmail logs to a file, name it with --log; a user outside the systemd-journal and adm groups sees only their own entries\n", error);
        Assert.Contains("Read 0 lines from 1 file(s)", output, StringComparison.Ordinal);

        // Nothing new after the cursor of the last run is a quiet hour, not a misconfiguration.
        _run.Journalctl = real;
        await _run.JsonAsync("--journal", "--apply", "--threshold", "1");
        var (_, _, quiet) = await _run.RunAsync("--journal", "--apply", "--threshold", "1");
        Assert.Equal("", quiet);
    }

    [Fact]
    public async Task A_journalctl_that_fails_is_an_error_with_its_message()
    {
        var failing = _run.Write("failing-journalctl", "#!/bin/sh", "echo 'Failed to open journal: Permission denied' >&2", "exit 1");
        File.SetUnixFileMode(failing, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        _run.Journalctl = failing;

        var (exit, _, error) = await _run.RunAsync("--journal");

        Assert.Equal(1, exit);
        Assert.Equal($"logscan: cannot read journal: {failing} exited with 1: Failed to open journal: Permission denied\n", error);
    }

    [Theory]
    // journald's trusted fields decide; SYSLOG_IDENTIFIER is the writer's word.
    [InlineData("sendmail.service", "sendmail", "0", "sendmail")]
    [InlineData("sendmail.service", "sendmail-mta", "0", "sendmail")]
    [InlineData("sendmail.service", "sendmail", "1000", null)]
    [InlineData("sendmail.service", "logger", "0", null)]
    [InlineData("milterhost.service", "milterhost", "112", "milterhost")]
    [InlineData("milterhost.service", "sh", "112", null)]
    [InlineData("user@1000.service", "sendmail", "1000", null)]
    [InlineData(null, "sendmail", "0", null)]
    public void Program_is_named_by_unit_command_and_user(string? unit, string comm, string uid, string? program)
    {
        var entry = new JournalEntry { Unit = unit, Comm = comm, Uid = uid, Pid = "42", Realtime = "1795845600123456", Message = "x" };

        Assert.Equal(program, JournalReader.ToSyslogLine(entry)?.Program);
    }
}
