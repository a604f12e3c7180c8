using Milter.Protocol.Wire;
using Milter.TestSupport;

namespace EndToEnd.Tests.Daemon;

/// <summary>
/// The runtime settings the daemon brings: the sessions run on the socket engine's event threads, one
/// per two CPUs (it shares the machine with sendmail), unless the administrator set the runtime's own
/// variable; and the GC's allocation budget is held to twice the surviving data. These run against the
/// build under test, the native one too, where the project file's settings are compiled in.
/// </summary>
public sealed class DaemonRuntimeSettingsTests
{
    private const string ThreadCount = "DOTNET_SYSTEM_NET_SOCKETS_THREAD_COUNT";
    private static readonly TimeSpan Bound = TimeSpan.FromSeconds(30);

    [Fact]
    public async Task Runs_one_socket_thread_per_two_processors_and_at_least_one()
    {
        using var sandbox = new DaemonSandbox("sockthreads");
        Assert.Null(Environment.GetEnvironmentVariable(ThreadCount)); // the daemon inherits the test's environment
        await using var daemon = await sandbox.StartAsync(new DaemonConfig());

        var answers = await Mta.SendMessageAsync(sandbox.Endpoint);

        Assert.Equal(ReplyCode.Continue, answers.EndOfMessage!.Code);
        Assert.Equal(Math.Max(1, Environment.ProcessorCount / 2), SocketThreads(daemon.Pid));
    }

    [Fact]
    public async Task The_administrators_own_setting_wins()
    {
        using var sandbox = new DaemonSandbox("sockthreads3");
        await using var daemon = await sandbox.StartAsync(new DaemonConfig(), environment: new Dictionary<string, string> { [ThreadCount] = "3" });

        var answers = await Mta.SendMessageAsync(sandbox.Endpoint);

        Assert.Equal(ReplyCode.Continue, answers.EndOfMessage!.Code);
        Assert.Equal(3, SocketThreads(daemon.Pid));
    }

    [Fact]
    public async Task The_GC_runs_as_the_project_sets_it_and_says_so_at_debug_level()
    {
        using var sandbox = new DaemonSandbox("gcsettings");
        await using var daemon = await sandbox.StartAsync(new DaemonConfig());

        Assert.True(await daemon.WaitForOutputAsync(l => l.Contains(" runtime: ", StringComparison.Ordinal), Bound), string.Join('\n', daemon.Output));

        var line = Assert.Single(daemon.Output, l => l.Contains(" runtime: ", StringComparison.Ordinal));
        Assert.EndsWith($"runtime: server GC, dynamic adaptation (DATAS) with an allocation budget of at most 2 times the surviving data; socket threads: {Math.Max(1, Environment.ProcessorCount / 2)}", line);
    }

    [Fact]
    public async Task Once_started_the_executables_start_up_pages_leave_the_resident_set_and_mail_still_runs()
    {
        using var sandbox = new DaemonSandbox("startpages");
        await using var daemon = await sandbox.StartAsync(new DaemonConfig());
        const string Said = " MB of the executable's pages that start-up read left the resident set";

        Assert.True(await daemon.WaitForOutputAsync(l => l.Contains(Said, StringComparison.Ordinal), Bound), string.Join('\n', daemon.Output));
        var line = Assert.Single(daemon.Output, l => l.Contains(Said, StringComparison.Ordinal));
        var megabytes = double.Parse(line[(line.IndexOf("memory: ", StringComparison.Ordinal) + 8)..line.IndexOf(Said, StringComparison.Ordinal)],
            System.Globalization.CultureInfo.InvariantCulture);
        // The native build is one large file (some 28 MB) that start-up reads much of; under dotnet the
        // executable is the small host.
        if (MilterHostProcess.Executable is not null)
            Assert.True(megabytes >= 2, line);

        var answers = await Mta.SendMessageAsync(sandbox.Endpoint);
        Assert.Equal(ReplyCode.Continue, answers.EndOfMessage!.Code);
    }

    // The runtime reads DOTNET_GC... values as hexadecimal: 1388 is 5,000 per mille.
    [Theory]
    [InlineData("DOTNET_GCDGen0GrowthMaxFactor", "1388", "runtime: server GC, dynamic adaptation (DATAS) with an allocation budget of at most 5 times the surviving data; ")]
    [InlineData("DOTNET_gcServer", "0", "runtime: workstation GC, no dynamic adaptation; ")]
    public async Task The_administrators_GC_variables_win_over_the_project_settings_and_the_line_says_so(string variable, string value, string said)
    {
        using var sandbox = new DaemonSandbox("gc" + value);
        await using var daemon = await sandbox.StartAsync(new DaemonConfig(), environment: new Dictionary<string, string> { [variable] = value });

        Assert.True(await daemon.WaitForOutputAsync(l => l.Contains(" runtime: ", StringComparison.Ordinal), Bound), string.Join('\n', daemon.Output));

        Assert.Contains(daemon.Output, l => l.Contains(said, StringComparison.Ordinal));
    }

    // The runtime names each engine's event thread ".NET Sockets".
    private static int SocketThreads(int pid) =>
        Directory.GetDirectories($"/proc/{pid}/task").Count(task => File.ReadAllText(Path.Combine(task, "comm")).TrimEnd('\n') == ".NET Sockets");
}
