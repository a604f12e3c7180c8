using Milter.Protocol.Replies;
using Milter.Protocol.Wire;
using Milter.TestSupport;

namespace EndToEnd.Tests.Daemon;

/// <summary>
/// <c>on_error</c> with a real store outage: two daemons on one private PostgreSQL, which is then
/// stopped under them. <c>tempfail</c> answers 451 4.3.0; <c>accept</c> lets the mail through.
/// </summary>
public sealed class DaemonStoreFailureTests(PrivatePostgres postgres) : IClassFixture<PrivatePostgres>
{
    // Outside relay.allow_clients, so greylisting applies (trusted clients are never greylisted).
    private const string Client = "192.0.2.7";
    private const string Greylist = "{ enabled: true, per_message: false, spf_pools: false, only_suspicious: false }";

    [Fact]
    public async Task A_store_outage_is_answered_per_on_error()
    {
        using var strict = new DaemonSandbox("onerror-tempfail");
        using var lenient = new DaemonSandbox("onerror-accept");
        var tempfailing = await strict.StartAsync(new DaemonConfig
        {
            Database = "postgres:" + await postgres.CreateDatabaseAsync("onerror_tempfail"), Greylist = Greylist, OnError = "tempfail",
        });
        await using var _ = tempfailing;
        await using var accepting = await lenient.StartAsync(new DaemonConfig
        {
            Database = "postgres:" + await postgres.CreateDatabaseAsync("onerror_accept"), Greylist = Greylist, OnError = "accept",
        });

        // The store works: a first attempt is greylisted by both.
        Assert.Equal("451 4.7.1 Greylisted, please retry in 120 seconds", (await Mta.SendMessageAsync(strict.Endpoint, Client)).Rcpt!.ToString());
        Assert.Equal("451 4.7.1 Greylisted, please retry in 120 seconds", (await Mta.SendMessageAsync(lenient.Endpoint, Client)).Rcpt!.ToString());

        await postgres.StopAsync();

        using var cancel = new CancellationTokenSource(Mta.Bound);
        await using (var mta = await Mta.OpenAsync(strict.Endpoint, cancel.Token))
        {
            await Mta.ConnectAsync(mta, Client, cancel.Token);
            var first = await Mta.EnvelopeAsync(mta, "5ATccc000001", "news@outside.example", "bob@example.com", cancel.Token);
            var second = await mta.RcptAsync("carol@example.com", cancellationToken: cancel.Token);
            Assert.Equal("451 4.3.0 Temporary local problem, please try again later", first.ToString());
            Assert.Equal("451 4.3.0 Temporary local problem, please try again later", second.ToString());
            await mta.QuitAsync(cancel.Token);
        }

        var through = await Mta.SendMessageAsync(lenient.Endpoint, Client, "news@outside.example", "bob@example.com");
        Assert.Equal(VerdictKind.Continue, through.Rcpt!.Kind);
        Assert.Equal(ReplyCode.Continue, through.EndOfMessage!.Code);

        // Both keep serving, and each says why (the lines that name the failing filter, as a postmaster greps them).
        Assert.False(tempfailing.HasExited || accepting.HasExited);
        Assert.Contains(tempfailing.Output, l => l.Contains("Filter greylist failed at rcpt for client [192.0.2.7]", StringComparison.Ordinal)
            && l.EndsWith("answering per on_error: tempfail", StringComparison.Ordinal));
        Assert.Contains(accepting.Output, l => l.Contains("Filter greylist failed at rcpt for client [192.0.2.7]", StringComparison.Ordinal)
            && l.EndsWith("answering per on_error: continue", StringComparison.Ordinal));
        foreach (var to in new[] { "bob", "carol" })
            Assert.Contains(tempfailing.Output, l => l.EndsWith(
                $"5ATccc000001: decision=tempfail stage=rcpt client=[192.0.2.7] from=<news@outside.example> to=<{to}@example.com> filter=greylist rule=on_error reply=\"451 4.3.0 Temporary local problem, please try again later\"",
                StringComparison.Ordinal));
    }
}
