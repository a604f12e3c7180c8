using Milter.Protocol.Wire;

namespace EndToEnd.Tests.Daemon;

/// <summary>
/// The sessions run on the socket engine's event threads: the daemon asks for one per two CPUs (it
/// shares the machine with sendmail), unless the administrator set the runtime's own variable.
/// </summary>
public sealed class DaemonSocketThreadsTests
{
    private const string ThreadCount = "DOTNET_SYSTEM_NET_SOCKETS_THREAD_COUNT";

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

    // The runtime names each engine's event thread ".NET Sockets".
    private static int SocketThreads(int pid) =>
        Directory.GetDirectories($"/proc/{pid}/task").Count(task => File.ReadAllText(Path.Combine(task, "comm")).TrimEnd('\n') == ".NET Sockets");
}
