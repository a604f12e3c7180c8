using System.Net;
using System.Net.Sockets;
using Milter.TestSupport;

namespace EndToEnd.Tests;

/// <summary>The harness' own promises: ports, packages, lifecycle of a private sendmail.</summary>
public sealed class HarnessTests
{
    [Fact]
    public void Free_port_can_be_bound_on_both_loopbacks_and_lies_below_the_ephemeral_range()
    {
        var port = FreePort.Next();

        var ephemeralStart = int.Parse(File.ReadAllText("/proc/sys/net/ipv4/ip_local_port_range").Split('\t', ' ')[0], System.Globalization.CultureInfo.InvariantCulture);
        Assert.InRange(port, 20000, ephemeralStart - 1);
        using var v4 = new TcpListener(IPAddress.Loopback, port);
        using var v6 = new TcpListener(IPAddress.IPv6Loopback, port);
        v4.Start();
        v6.Start();
    }

    [Fact]
    public void Installed_packages_need_no_installing_and_the_host_name_is_resolvable()
    {
        Assert.Empty(AptPackages.EnsureInstalled("m4", "sendmail-bin"));

        var hosts = File.ReadAllText("/etc/hosts");
        Assert.Contains($"{Environment.MachineName}.localdomain", hosts, StringComparison.Ordinal);
    }

    [Fact]
    public void Package_names_that_are_options_are_refused()
    {
        var error = Assert.Throws<ArgumentException>(() => AptPackages.EnsureInstalled("-y"));
        Assert.StartsWith("'-y' is not a Debian package name.", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Stop_frees_the_port_and_a_restart_applies_new_options_and_keeps_the_queue()
    {
        await using var sendmail = await PrivateSendmail.StartNewAsync(new SendmailOptions());
        var port = sendmail.Port;
        var before = await Swaks.RunAsync(new SwaksRequest { Port = port, To = ["alice@example.com"] });
        Assert.NotNull(before.QueueId);

        await sendmail.StopAsync();

        Assert.False(sendmail.IsRunning);
        using (var probe = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp))
        {
            var refused = await Assert.ThrowsAsync<SocketException>(() => probe.ConnectAsync(IPAddress.Loopback, port));
            Assert.Equal(SocketError.ConnectionRefused, refused.SocketErrorCode);
        }

        await sendmail.StartAsync(new SendmailOptions { Port = port, LocalDomains = ["example.net"] });

        Assert.True(sendmail.IsRunning);
        Assert.Equal(port, sendmail.Port);
        Assert.Equal([before.QueueId], sendmail.ReadQueue().Select(m => m.QueueId));
        var after = await Swaks.RunAsync(new SwaksRequest
        {
            Port = port, To = ["alice@example.net", "alice@example.com"], LocalInterface = "127.0.0.5", QuitAfter = "RCPT",
        });
        Assert.Equal(
            ["250 2.1.5 <alice@example.net>... Recipient ok", "550 5.7.1 <alice@example.com>... Relaying denied. IP name lookup failed [127.0.0.5]"],
            after.RepliesTo("RCPT").Select(r => r.Text));
    }

    [Fact]
    public async Task Dispose_stops_sendmail_and_removes_the_sandbox()
    {
        var sendmail = await PrivateSendmail.StartNewAsync(new SendmailOptions());
        var directory = sendmail.Directory;
        Assert.StartsWith("/var/lib/milterhost-test/", directory, StringComparison.Ordinal);
        Assert.True(sendmail.IsRunning);

        await sendmail.DisposeAsync();

        Assert.False(Directory.Exists(directory));
        Assert.False(sendmail.IsRunning);
    }

    [Fact]
    public async Task A_given_port_held_by_another_listener_fails_the_start_with_sendmails_complaint()
    {
        using var squatter = new TcpListener(IPAddress.Loopback, 0);
        squatter.Start();
        var port = ((IPEndPoint)squatter.LocalEndpoint).Port;
        await using var sendmail = await PrivateSendmail.CreateAsync();

        var error = await Assert.ThrowsAsync<InvalidOperationException>(() => sendmail.StartAsync(new SendmailOptions { Port = port }));

        Assert.Contains($"did not start listening on port {port} (PortTaken)", error.Message, StringComparison.Ordinal);
        Assert.Contains("daemon MTA-v4: cannot bind: Address already in use", error.Message, StringComparison.Ordinal);
        Assert.False(sendmail.IsRunning);
        // The daemon that could not bind wrote no pid file but kept retrying: it is stopped too, or
        // it would take the port once free and outlive the test.
        Assert.Empty(sendmail.ProcessesInSandbox());
    }

    [Fact]
    public void Options_that_sendmail_files_cannot_hold_are_refused()
    {
        var error = Assert.Throws<ArgumentException>(() => new SendmailOptions { AccessEntries = new Dictionary<string, string> { ["Connect:127.0.0.9 x"] = "REJECT" } }.Validate());
        Assert.StartsWith("'Connect:127.0.0.9 x' in AccessEntries must be non-empty, without spaces or '#'.", error.Message, StringComparison.Ordinal);
        Assert.Throws<ArgumentException>(() => new SendmailOptions { MilterSocket = "unix:/a b" }.Validate());
        Assert.Throws<ArgumentException>(() => new SendmailOptions { LocalDomains = [] }.Validate());
    }
}
