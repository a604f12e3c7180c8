using Milter.Protocol.Replies;
using Milter.TestSupport;

namespace EndToEnd.Tests.Daemon;

/// <summary>
/// Two daemons (two MX hosts) on one private PostgreSQL act as one greylist: a first attempt
/// deferred by one is a retry to the other, which passes it once the delay is over, in either
/// direction, and neither passes a triplet the other has not seen before the delay.
/// </summary>
public sealed class DaemonSharedGreylistTests(PrivatePostgres postgres) : IClassFixture<PrivatePostgres>
{
    // Outside relay.allow_clients, so greylisting applies.
    private const string Client = "192.0.2.41";
    private const string Greylist = "{ enabled: true, delay: 6s, per_message: false, spf_pools: false, only_suspicious: false }";
    private const string Deferred = "451 4.7.1 Greylisted, please retry in 6 seconds";

    // Long enough that the attempts before the wait finish within it on a loaded machine; the store counts whole seconds.
    private static readonly TimeSpan PastDelay = TimeSpan.FromSeconds(6.2);

    [Fact]
    public async Task A_first_attempt_at_one_host_passes_when_retried_at_the_other()
    {
        var database = "postgres:" + await postgres.CreateDatabaseAsync("shared_greylist");
        using var sandboxA = new DaemonSandbox("shared-greylist-a");
        using var sandboxB = new DaemonSandbox("shared-greylist-b");
        await using var hostA = await sandboxA.StartAsync(new DaemonConfig { Database = database, Greylist = Greylist });
        await using var hostB = await sandboxB.StartAsync(new DaemonConfig { Database = database, Greylist = Greylist });

        var firstAtA = await Mta.SendMessageAsync(sandboxA.Endpoint, Client, "news@outside.example", "bob@example.com");
        var firstAtB = await Mta.SendMessageAsync(sandboxB.Endpoint, Client, "offers@outside.example", "carol@example.com");
        // Before the delay the other host defers it too.
        var earlyAtB = await Mta.SendMessageAsync(sandboxB.Endpoint, Client, "news@outside.example", "bob@example.com", "5ATddd000002");
        await Task.Delay(PastDelay);
        var retryAtB = await Mta.SendMessageAsync(sandboxB.Endpoint, Client, "news@outside.example", "bob@example.com", "5ATddd000003");
        var retryAtA = await Mta.SendMessageAsync(sandboxA.Endpoint, Client, "offers@outside.example", "carol@example.com", "5ATddd000004");

        Assert.Equal(Deferred, firstAtA.Rcpt!.ToString());
        Assert.Equal(Deferred, firstAtB.Rcpt!.ToString());
        Assert.Equal(VerdictKind.Tempfail, earlyAtB.Rcpt!.Kind);
        Assert.Equal(VerdictKind.Continue, retryAtB.Rcpt!.Kind);
        Assert.Equal(VerdictKind.Continue, retryAtA.Rcpt!.Kind);
        Assert.False(hostA.HasExited || hostB.HasExited);
    }
}
