using System.Globalization;
using System.Net;
using System.Net.Sockets;

namespace EndToEnd.Tests.SendmailCf;

/// <summary>sendmail-cf/smarthost.m4: all outgoing mail to the provider's relay on a port other than 25, with a login.</summary>
public sealed class SmartHostFragmentTests
{
    private const string Message =
        "From: Alice <alice@example.com>\nTo: bob@remote.example\nSubject: through the smart host\n\nfirst line\n.line starting with a dot\n";

    [Fact]
    public async Task Defaults_send_everything_to_the_relay_on_port_587()
    {
        var cf = await CfSandbox.BuildCfAsync(CfSandbox.MinimalMc([CfSandbox.Include("smarthost.m4")]));

        var lines = cf.Split('\n');
        Assert.Contains("DS[relay.example.net]", lines);
        Assert.Equal(2, lines.Count(l => l == "\t\tA=TCP $h 587"));
        Assert.Contains(lines, l => l.StartsWith("Mrelay,", StringComparison.Ordinal));
        Assert.Contains("Kauthinfo hash /etc/mail/authinfo", lines);
        Assert.Contains("O AuthOptions=A", lines);
        Assert.Contains("O CACertFile=/etc/ssl/certs/ca-certificates.crt", lines);
    }

    [Fact]
    public async Task The_CA_bundle_is_the_first_of_the_distributions_bundles_that_exists()
    {
        // As on RHEL: no Debian bundle, the bundle under pki/tls/certs.
        using var sandbox = CfSandbox.Create();
        var rhel = Path.Combine(sandbox.Directory, "pki", "tls", "certs");
        Directory.CreateDirectory(rhel);
        File.WriteAllText(Path.Combine(rhel, "ca-bundle.crt"), "");
        var bundles = $"{sandbox.Directory}/ssl/certs/ca-certificates.crt {rhel}/ca-bundle.crt";

        var cf = await CfSandbox.BuildCfAsync(CfSandbox.MinimalMc([CfSandbox.Define("SMARTHOST_CA_BUNDLES", bundles), CfSandbox.Include("smarthost.m4")]));

        var lines = cf.Split('\n');
        Assert.Contains($"O CACertFile={rhel}/ca-bundle.crt", lines);
        Assert.Contains($"O CACertPath={rhel}", lines);
    }

    [Fact]
    public async Task Without_any_CA_bundle_it_warns_and_leaves_the_options_unset()
    {
        var missing = "/nonexistent/ca-bundle.crt";

        var result = await CfSandbox.M4Async(CfSandbox.MinimalMc([CfSandbox.Define("SMARTHOST_CA_BUNDLES", missing), CfSandbox.Include("smarthost.m4")]));

        Assert.Contains($"*** WARNING: smarthost.m4: none of {missing} exists; define confCACERT to check the relay certificate", result.Stderr, StringComparison.Ordinal);
        Assert.Contains("#O CACertFile", result.Stdout.Split('\n'));
    }

    [Fact]
    public async Task Relay_port_applies_to_the_relay_and_esmtp_mailers_only()
    {
        var cf = await CfSandbox.BuildCfAsync(CfSandbox.MinimalMc(
        [
            CfSandbox.Define("SMARTHOST_RELAY", "smtp.provider.example"),
            CfSandbox.Define("SMARTHOST_PORT", "2525"),
            CfSandbox.Include("smarthost.m4"),
        ]));

        var mailers = MailerArguments(cf);
        Assert.Equal("TCP $h 2525", mailers["relay"]);
        Assert.Equal("TCP $h 2525", mailers["esmtp"]);
        Assert.Equal("TCP $h", mailers["smtp"]);
        Assert.Contains("DS[smtp.provider.example]", cf.Split('\n'));
    }

    [Fact]
    public async Task Refuses_to_build_when_included_after_the_smtp_mailer()
    {
        var result = await CfSandbox.M4Async(CfSandbox.MinimalMc([], afterMailers: [CfSandbox.Include("smarthost.m4")]));

        Assert.NotEqual(0, result.ExitCode);
        Assert.Contains("*** ERROR: smarthost.m4 must be included before MAILER(`smtp')", result.Stderr, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Queued_mail_goes_to_the_relay_port_with_the_authinfo_login()
    {
        await using var relay = RelaySink.Start("relayuser", "s3cret pass");
        using var sandbox = CfSandbox.Create();
        await sandbox.WriteMapAsync("authinfo", $"AuthInfo:{RelaySink.Address} \"U:relayuser\" \"P:s3cret pass\" \"M:PLAIN\"\n");
        await sandbox.BuildAsync(SmartHostLines(relay.Port));

        var submitted = await sandbox.SendmailAsync(["-odq", "-f", "alice@example.com", "bob@remote.example"], Message);
        Assert.True(submitted.ExitCode == 0, submitted.ToString());
        Assert.Single(sandbox.QueuedIds());

        var run = await sandbox.SendmailAsync(["-q", "-v"]);

        Assert.True(run.ExitCode == 0, run.ToString());
        Assert.Contains($"Connecting to [{RelaySink.Address}] port {relay.Port} via relay", run.Stdout, StringComparison.Ordinal);
        var message = await relay.NextMessageAsync(TimeSpan.FromSeconds(10));
        Assert.Equal("relayuser", message.Login);
        Assert.Equal("alice@example.com", message.MailFrom);
        Assert.Equal(["bob@remote.example"], message.Recipients);
        Assert.Equal("through the smart host", message.Header("Subject"));
        Assert.EndsWith("\r\n\r\nfirst line\r\n.line starting with a dot\r\n", message.Data, StringComparison.Ordinal);
        Assert.Empty(sandbox.QueuedIds());
    }

    [Fact]
    public async Task Mail_waits_in_the_queue_while_the_relay_is_unreachable()
    {
        using var sandbox = CfSandbox.Create();
        await sandbox.WriteMapAsync("authinfo", $"AuthInfo:{RelaySink.Address} \"U:relayuser\" \"P:secret\" \"M:PLAIN\"\n");
        await sandbox.BuildAsync(SmartHostLines(ClosedPort()));

        var submitted = await sandbox.SendmailAsync(["-odq", "-f", "alice@example.com", "bob@remote.example"], Message);
        Assert.True(submitted.ExitCode == 0, submitted.ToString());
        var queued = Assert.Single(sandbox.QueuedIds());

        var run = await sandbox.SendmailAsync(["-q", "-v"]);

        Assert.True(run.ExitCode == 0, run.ToString());
        Assert.Contains("Connection refused", run.Stdout, StringComparison.Ordinal);
        Assert.Equal([queued], sandbox.QueuedIds());
    }

    private static string[] SmartHostLines(int port) =>
    [
        CfSandbox.Define("SMARTHOST_RELAY", RelaySink.Address.ToString()),
        CfSandbox.Define("SMARTHOST_PORT", port.ToString(CultureInfo.InvariantCulture)),
        CfSandbox.Include("smarthost.m4"),
    ];

    /// <summary>A port on the relay's address that nothing listens on: bound, then released.</summary>
    private static int ClosedPort()
    {
        var listener = new TcpListener(RelaySink.Address, 0);
        listener.Start();
        var port = ((IPEndPoint)listener.LocalEndpoint).Port;
        listener.Stop();
        return port;
    }

    /// <summary>Mailer name to its <c>A=</c> arguments, from the M lines of a sendmail.cf.</summary>
    private static Dictionary<string, string> MailerArguments(string cf)
    {
        var result = new Dictionary<string, string>(StringComparer.Ordinal);
        string? mailer = null;
        foreach (var line in cf.Split('\n'))
        {
            if (line.StartsWith('M') && line.Contains(',', StringComparison.Ordinal))
            {
                mailer = line[1..line.IndexOf(',', StringComparison.Ordinal)];
            }
            else if (mailer is not null && line.StartsWith("\t\tA=", StringComparison.Ordinal))
            {
                result[mailer] = line[4..];
                mailer = null;
            }
        }

        return result;
    }
}
