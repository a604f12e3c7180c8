namespace EndToEnd.Tests.SendmailCf;

/// <summary>sendmail-cf/relay-control.m4 and access.example: relaying only for listed clients, nothing for address harvesters.</summary>
public sealed class RelayControlFragmentTests
{
    private const string RelayDenied = "$# error $@ 5 . 7 . 1 $: \"550 Relaying denied\"";

    [Fact]
    public async Task Declares_the_access_map_and_the_privacy_options()
    {
        var cf = await CfSandbox.BuildCfAsync(CfSandbox.MinimalMc([CfSandbox.Include("relay-control.m4")]));

        var lines = cf.Split('\n');
        Assert.Contains("Kaccess hash -T<TMPF> /etc/mail/access", lines);
        Assert.Contains("O PrivacyOptions=goaway,novrfy,noexpn,noetrn,noverb,noreceipts,restrictmailq,restrictqrun,restrictexpand,authwarnings", lines);
    }

    [Fact]
    public async Task Keeps_an_access_map_declared_earlier_instead_of_declaring_it_twice()
    {
        var cf = await CfSandbox.BuildCfAsync(CfSandbox.MinimalMc(
        [
            "FEATURE(`access_db', , `skip')dnl",
            CfSandbox.Include("relay-control.m4"),
        ]));

        Assert.Single(cf.Split('\n'), l => l.StartsWith("Kaccess ", StringComparison.Ordinal));
    }

    [Fact]
    public async Task All_fragments_fit_into_Debians_own_sendmail_mc()
    {
        const string StockMc = "/etc/mail/sendmail.mc";
        Assert.True(File.Exists(StockMc), $"{StockMc} is missing: install sendmail-bin and sendmail-cf with apt.");
        var stock = await File.ReadAllTextAsync(StockMc);
        var fragments = string.Join('\n', new[] { "relay-control.m4", "milterhost.m4", "smarthost.m4" }.Select(CfSandbox.Include));
        // Where sendmail-cf/README.md says they go: after the FEATUREs, before the mailers.
        var mc = stock.Replace("MAILER_DEFINITIONS\n", fragments + "\nMAILER_DEFINITIONS\n", StringComparison.Ordinal);
        Assert.NotEqual(stock, mc);

        var cf = (await CfSandbox.BuildCfAsync(mc)).Split('\n');

        Assert.Single(cf, l => l.StartsWith("Kaccess ", StringComparison.Ordinal));
        Assert.Contains("Xmilterhost, S=unix:/run/milterhost/milter.sock, F=T, T=C:10s;S:30s;R:30s;E:5m", cf);
        Assert.Contains("DS[relay.example.net]", cf);
        // Debian's own, milder PrivacyOptions are replaced, not merged.
        Assert.Single(cf, l => l.StartsWith("O PrivacyOptions=", StringComparison.Ordinal));
        Assert.Contains("O PrivacyOptions=goaway,novrfy,noexpn,noetrn,noverb,noreceipts,restrictmailq,restrictqrun,restrictexpand,authwarnings", cf);
    }

    [Fact]
    public async Task Refuses_to_build_an_open_relay()
    {
        var result = await CfSandbox.M4Async(CfSandbox.MinimalMc(
        [
            "FEATURE(`promiscuous_relay')dnl",
            CfSandbox.Include("relay-control.m4"),
        ]));

        Assert.NotEqual(0, result.ExitCode);
        Assert.Contains("*** ERROR: relay-control.m4: FEATURE(`promiscuous_relay') makes this host an open relay", result.Stderr, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("127.0.0.1", "RELAY")]
    [InlineData("127.0.0.9", "RELAY")]
    [InlineData("192.0.2.10", "RELAY")]
    [InlineData("192.168.1.77", "RELAY")]
    [InlineData("192.0.2.11", RelayDenied)]
    [InlineData("192.168.10.1", RelayDenied)]
    [InlineData("203.0.113.5", RelayDenied)]
    public async Task Relays_only_for_clients_with_a_RELAY_entry_in_the_example_access_file(string client, string verdict)
    {
        using var sandbox = await BuildWithExampleAccessAsync();

        Assert.Equal(verdict, await CheckRcptAsync(sandbox, client, "bob@remote.example"));
    }

    [Fact]
    public async Task Anyone_may_still_send_to_our_own_domains()
    {
        using var sandbox = await BuildWithExampleAccessAsync();

        Assert.Equal("RELAY", await CheckRcptAsync(sandbox, "203.0.113.5", "alice@example.com"));
    }

    [Fact]
    public async Task Outsiders_cannot_probe_addresses_or_run_the_queue()
    {
        using var sandbox = await BuildWithExampleAccessAsync();
        await using var smtp = await StdioSmtp.StartAsync(sandbox);

        var ehlo = (await smtp.SendAsync("EHLO client.example")).Split('\n').Select(l => l[4..]).ToList();
        Assert.DoesNotContain("EXPN", ehlo);
        Assert.DoesNotContain("VERB", ehlo);
        Assert.DoesNotContain("ETRN", ehlo);
        Assert.DoesNotContain("DSN", ehlo);
        Assert.Equal("252 2.5.2 Cannot VRFY user; try RCPT to attempt delivery (or try finger)", await smtp.SendAsync("VRFY alice"));
        Assert.Equal("502 5.7.0 Sorry, we do not allow this operation", await smtp.SendAsync("EXPN postmaster"));
        Assert.Equal("502 5.7.0 Sorry, we do not allow this operation", await smtp.SendAsync("ETRN example.com"));
        Assert.Equal("502 5.7.0 Verbose unavailable", await smtp.SendAsync("VERB"));
    }

    private static async Task<CfSandbox> BuildWithExampleAccessAsync()
    {
        var sandbox = CfSandbox.Create();
        try
        {
            await sandbox.WriteMapAsync("access", await File.ReadAllTextAsync(CfSandbox.Fragment("access.example")));
            await sandbox.BuildAsync([CfSandbox.Include("relay-control.m4")]);
            return sandbox;
        }
        catch
        {
            sandbox.Dispose();
            throw;
        }
    }

    /// <summary>
    /// What sendmail's check_rcpt ruleset decides for a recipient from that client, in address
    /// test mode: the same rules an SMTP RCPT runs, for any client address, without a connection.
    /// </summary>
    private static async Task<string> CheckRcptAsync(CfSandbox sandbox, string client, string recipient)
    {
        var result = await sandbox.SendmailAsync(["-bt"], $".D{{client_addr}}{client}\n.D{{client_name}}[{client}]\ncheck_rcpt <{recipient}>\n");
        const string Prefix = "check_rcpt       returns: ";
        var verdict = result.Stdout.Split('\n').LastOrDefault(l => l.StartsWith(Prefix, StringComparison.Ordinal));
        return verdict?[Prefix.Length..] ?? throw new InvalidOperationException(result.ToString());
    }
}
