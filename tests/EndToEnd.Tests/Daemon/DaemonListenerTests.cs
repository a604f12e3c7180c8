using System.Globalization;
using System.Net;
using Milter.Protocol.Wire;
using Milter.TestSupport;

namespace EndToEnd.Tests.Daemon;

/// <summary>The TCP forms of <c>listen:</c> that sendmail's <c>S=</c> takes.</summary>
public sealed class DaemonListenerTests
{
    [Theory]
    [InlineData("inet:{0}@127.0.0.1", "127.0.0.1")]
    [InlineData("inet6:{0}@[::1]", "::1")]
    public async Task A_TCP_listener_serves_a_milter_conversation(string listen, string address)
    {
        using var sandbox = new DaemonSandbox("inet");
        var port = FreePort.Next();
        await using var daemon = await sandbox.StartAsync(new DaemonConfig { Listen = string.Format(System.Globalization.CultureInfo.InvariantCulture, listen, port) });

        var answers = await Mta.SendMessageAsync(new IPEndPoint(IPAddress.Parse(address), port));

        Assert.Equal(ReplyCode.Continue, answers.EndOfMessage!.Code);
        Assert.False(File.Exists(sandbox.SocketPath));
    }

    /// <summary>The milter protocol has no authentication: a port without a host must not be reachable from other hosts.</summary>
    [Theory]
    [InlineData("inet:{0}", "127.0.0.1")]
    [InlineData("inet6:{0}", "::1")]
    public async Task A_port_without_a_host_listens_on_loopback_only(string listen, string loopback)
    {
        using var sandbox = new DaemonSandbox("inetlo");
        var port = FreePort.Next();
        await using var daemon = await sandbox.StartAsync(new DaemonConfig { Listen = string.Format(CultureInfo.InvariantCulture, listen, port) });

        Assert.Equal([IPAddress.Parse(loopback)], ListeningAddresses(port));
        Assert.Contains(daemon.Output, l => l.Contains($" started: listening on {string.Format(CultureInfo.InvariantCulture, listen, port)}@{(loopback.Contains(':', StringComparison.Ordinal) ? $"[{loopback}]" : loopback)},",
            StringComparison.Ordinal));
        var answers = await Mta.SendMessageAsync(new IPEndPoint(IPAddress.Parse(loopback), port));
        Assert.Equal(ReplyCode.Continue, answers.EndOfMessage!.Code);
    }

    [Fact]
    public async Task An_explicit_wildcard_listens_on_every_interface_and_the_start_warns_as_check_config_does()
    {
        using var sandbox = new DaemonSandbox("inetany");
        var port = FreePort.Next();
        var statusPort = FreePort.Next();
        var config = sandbox.Write(new DaemonConfig { Listen = $"inet:{port}@0.0.0.0", Extra = $"status: {{ listen: \"0.0.0.0:{statusPort}\" }}" });
        var (checkExit, _, warnings) = await MilterHostProcess.RunToEndAsync(["check-config", "--config", config]);
        Assert.Equal(0, checkExit);
        Assert.Equal(2, warnings.Split('\n', StringSplitOptions.RemoveEmptyEntries).Length);

        await using var daemon = await MilterHostProcess.StartAsync(config);

        Assert.Equal([IPAddress.Any], ListeningAddresses(port));
        foreach (var warning in warnings.Split('\n', StringSplitOptions.RemoveEmptyEntries))
            Assert.Contains(daemon.Output, l => l.EndsWith(warning, StringComparison.Ordinal));
        Assert.Contains($"{config}:1:1: warning: listen: inet:{port}@0.0.0.0 accepts milter connections from every interface;", warnings, StringComparison.Ordinal);
        Assert.Contains($"warning: status.listen 0.0.0.0:{statusPort} is not a loopback address and status.token is not set:", warnings, StringComparison.Ordinal);
    }

    /// <summary>The local addresses of the TCP sockets in LISTEN state on <paramref name="port"/>, as the kernel lists them in /proc/net/tcp and tcp6.</summary>
    private static List<IPAddress> ListeningAddresses(int port)
    {
        var found = new List<IPAddress>();
        foreach (var table in (string[])["/proc/net/tcp", "/proc/net/tcp6"])
        {
            foreach (var line in File.ReadLines(table).Skip(1))
            {
                var fields = line.Split(' ', StringSplitOptions.RemoveEmptyEntries);
                var local = fields[1].Split(':');
                const string Listen = "0A";
                if (fields[3] != Listen || int.Parse(local[1], NumberStyles.HexNumber, CultureInfo.InvariantCulture) != port)
                    continue;
                // The address is written as 32-bit words, each in the machine's (little-endian) byte order.
                var bytes = Convert.FromHexString(local[0]);
                for (var word = 0; word < bytes.Length; word += 4)
                    Array.Reverse(bytes, word, 4);
                found.Add(new IPAddress(bytes));
            }
        }
        return found;
    }
}
