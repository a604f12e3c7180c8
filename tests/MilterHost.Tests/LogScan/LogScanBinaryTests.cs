using System.Diagnostics;
using Milter.TestSupport;

namespace MilterHost.Tests.LogScan;

/// <summary><c>logscan --apply</c> through the built binary, as the daily job runs it.</summary>
public sealed class LogScanBinaryTests : IDisposable
{
    private readonly TempDirectory _directory = new();

    public void Dispose() => _directory.Dispose();

    [Fact]
    public async Task Apply_as_root_reads_a_root_only_log_then_becomes_the_daemons_user_before_opening_sqlite()
    {
        Assert.True(Environment.UserName == "root", "this test plays root running the daily logscan");
        // The temp folder is made 0700; the daemon's user must be able to reach its database folder inside.
        File.SetUnixFileMode(_directory.Path, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute
            | UnixFileMode.GroupExecute | UnixFileMode.OtherExecute);
        var folder = _directory.Combine("var");
        Directory.CreateDirectory(folder);
        await RunProgramAsync("chown", "nobody:nogroup", folder);
        var log = _directory.Combine("maillog");
        var stamp = DateTime.Now.AddMinutes(-5).ToString("MMM dd HH:mm:ss", System.Globalization.CultureInfo.InvariantCulture);
        File.WriteAllLines(log, Enumerable.Range(1, 3).Select(i =>
            $"{stamp} mx1 sm-mta[90{i}]: sAS0600a00090{i}: ruleset=check_rcpt, arg1=<a{i}@b.example>, relay=[192.0.2.9], reject=550 5.7.1 <a{i}@b.example>... Relaying denied"));
        File.SetUnixFileMode(log, UnixFileMode.UserRead | UnixFileMode.UserWrite);
        var config = _directory.Combine("nobody.yaml");
        File.WriteAllText(config, $"database: sqlite:{folder}/milterhost.db\nuser: nobody\n");

        var (exit, stdout, stderr) = await MilterHostProcess.RunToEndAsync(
            ["logscan", "--log", log, "--threshold", "3", "--apply", "--state", $"{folder}/logscan.state", "--config", config]);

        Assert.Equal("", stderr);
        Assert.Equal(0, exit);
        Assert.Contains("Applied: 1 new ban(s) for 7d, 0 already banned.", stdout);
        Assert.Equal("nobody", (await RunProgramAsync("stat", "-c", "%U", $"{folder}/milterhost.db")).Trim());
        Assert.Equal("nobody", (await RunProgramAsync("stat", "-c", "%U", $"{folder}/logscan.state")).Trim());
    }

    private static async Task<string> RunProgramAsync(string program, params string[] args)
    {
        using var process = Process.Start(new ProcessStartInfo(program, args) { RedirectStandardOutput = true, UseShellExecute = false })!;
        var output = await process.StandardOutput.ReadToEndAsync();
        await process.WaitForExitAsync();
        Assert.Equal(0, process.ExitCode);
        return output;
    }
}
