namespace EndToEnd.Tests.SendmailCf;

/// <summary>sendmail-cf/milterhost.m4 built by the real cf.m4 and obeyed by the real sendmail.</summary>
public sealed class MilterFragmentTests
{
    [Fact]
    public async Task Declares_the_filter_on_the_packaged_socket_with_tempfail_and_timeouts()
    {
        var cf = await CfSandbox.BuildCfAsync(CfSandbox.MinimalMc([CfSandbox.Include("milterhost.m4")]));

        var lines = cf.Split('\n');
        Assert.Contains("Xmilterhost, S=unix:/run/milterhost/milter.sock, F=T, T=C:10s;S:30s;R:30s;E:5m", lines);
        Assert.Contains("O InputMailFilters=milterhost", lines);
    }

    [Fact]
    public async Task Sends_the_macros_the_filters_read_at_each_stage()
    {
        var cf = await CfSandbox.BuildCfAsync(CfSandbox.MinimalMc([CfSandbox.Include("milterhost.m4")]));

        var lines = cf.Split('\n');
        Assert.Contains("O Milter.macros.connect=j, _, {daemon_name}, {daemon_addr}, {daemon_port}, {if_name}, {if_addr}, {client_addr}, {client_name}, {client_port}", lines);
        Assert.Contains("O Milter.macros.helo={tls_version}, {cipher}, {cipher_bits}, {cert_subject}, {cert_issuer}", lines);
        Assert.Contains("O Milter.macros.envfrom=i, {auth_type}, {auth_authen}, {auth_ssf}, {auth_author}, {mail_mailer}, {mail_host}, {mail_addr}", lines);
        Assert.Contains("O Milter.macros.envrcpt={rcpt_mailer}, {rcpt_host}, {rcpt_addr}", lines);
        Assert.Contains("O Milter.macros.eoh={msg_id}", lines);
        Assert.Contains("O Milter.macros.eom={msg_id}", lines);
    }

    [Fact]
    public async Task Adds_nothing_to_the_cf_but_the_filter_and_its_options()
    {
        var plain = await CfSandbox.BuildCfAsync(CfSandbox.MinimalMc([]));
        var withFilter = await CfSandbox.BuildCfAsync(CfSandbox.MinimalMc([CfSandbox.Include("milterhost.m4")]));

        // Comments and blank lines of the fragment must not leak into sendmail.cf.
        static IEnumerable<string> Settings(string cf) =>
            cf.Split('\n').Where(l => l.Length > 0 && !l.StartsWith('#'));
        var added = Settings(withFilter).Except(Settings(plain)).ToList();
        Assert.All(added, l => Assert.True(l.StartsWith("Xmilterhost,", StringComparison.Ordinal) || l.StartsWith("O Milter.macros.", StringComparison.Ordinal) || l == "O InputMailFilters=milterhost", l));
        Assert.Equal(8, added.Count);
    }

    [Fact]
    public async Task Socket_can_be_moved_by_a_define_before_the_include()
    {
        var cf = await CfSandbox.BuildCfAsync(CfSandbox.MinimalMc(
        [
            CfSandbox.Define("MILTERHOST_SOCKET", "inet:8891@127.0.0.1"),
            CfSandbox.Include("milterhost.m4"),
        ]));

        Assert.Contains("Xmilterhost, S=inet:8891@127.0.0.1, F=T, T=C:10s;S:30s;R:30s;E:5m", cf.Split('\n'));
    }

    [Fact]
    public async Task Mail_is_tempfailed_not_let_through_while_the_filter_is_down()
    {
        using var sandbox = CfSandbox.Create();
        await sandbox.BuildAsync(
        [
            CfSandbox.Define("MILTERHOST_SOCKET", $"unix:{sandbox.Directory}/absent.sock"),
            CfSandbox.Include("milterhost.m4"),
        ]);
        await using var smtp = await StdioSmtp.StartAsync(sandbox);

        Assert.StartsWith("220 mx.example.com ESMTP", smtp.Greeting, StringComparison.Ordinal);
        Assert.StartsWith("250-mx.example.com Hello", await smtp.SendAsync("EHLO client.example"), StringComparison.Ordinal);
        Assert.Equal("451 4.3.2 Please try again later", await smtp.SendAsync("MAIL FROM:<sender@remote.example>"));
        Assert.Equal("221 2.0.0 mx.example.com closing connection", await smtp.SendAsync("QUIT"));
        Assert.Empty(sandbox.QueuedIds());
    }
}
