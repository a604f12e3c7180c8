using MilterHost.Tools.LogScan;

namespace MilterHost.Tests.LogScan;

public sealed class MaillogScannerTests
{
    private static readonly DateTimeOffset Now = new(2026, 11, 28, 12, 0, 0, TimeSpan.Zero);

    private static MaillogScanner Scanner(ScanLimits limits) =>
        new(new SyslogLineParser(Now, TimeZoneInfo.Utc), null, limits);

    private static string Refusal(int i) =>
        $"Nov 28 06:00:00 mx1 sm-mta[{1000 + i}]: sAS0600a{i:000000}: Milter: to=<a@example.com>, reject=550 5.7.1 Command rejected";

    private static string Envelope(int i) =>
        $"Nov 28 06:00:01 mx1 sm-mta[{1000 + i}]: sAS0600a{i:000000}: from=<s@x.example>, size=0, class=0, nrcpts=0, proto=ESMTP, daemon=MTA, relay=[192.0.2.7]";

    [Fact]
    public void Waiting_queue_ids_beyond_the_bound_are_dropped_as_unattributed()
    {
        var scanner = Scanner(new ScanLimits { QueueIds = 4 });

        for (var i = 0; i < 10; i++)
            scanner.Feed(Refusal(i));
        // Only the newest queue ids are still waiting when their envelope lines come, newest first.
        for (var i = 9; i >= 0; i--)
            scanner.Feed(Envelope(i));
        var result = scanner.Finish();

        Assert.Equal(10, result.Events);
        var attributed = result.Clients.Single().Count;
        Assert.InRange(attributed, 2, 4);
        Assert.Equal(10 - attributed, result.Unattributed);
    }

    [Fact]
    public void Within_the_bound_every_waiting_refusal_finds_its_client()
    {
        var scanner = Scanner(new ScanLimits());

        for (var i = 0; i < 1000; i++)
            scanner.Feed(Refusal(i));
        for (var i = 0; i < 1000; i++)
            scanner.Feed(Envelope(i));
        var result = scanner.Finish();

        Assert.Equal(1000, result.Clients.Single().CountOf(EventKind.MilterReject));
        Assert.Equal(0, result.Unattributed);
    }

    [Fact]
    public void Refusal_with_no_envelope_and_no_connect_line_stays_unattributed()
    {
        var scanner = Scanner(new ScanLimits());

        scanner.Feed(Refusal(1));
        var result = scanner.Finish();

        Assert.Empty(result.Clients);
        Assert.Equal(1, result.Unattributed);
    }

    [Fact]
    public void Pid_reused_by_a_new_connection_takes_the_new_client()
    {
        var scanner = Scanner(new ScanLimits());

        scanner.Feed("Nov 28 06:00:00 mx1 sm-mta[5]: NOQUEUE: connect from [192.0.2.1]");
        scanner.Feed("Nov 28 07:00:00 mx1 sm-mta[5]: NOQUEUE: connect from other.example [192.0.2.2]");
        scanner.Feed("Nov 28 07:00:01 mx1 sm-mta[5]: sAS0700a000005: Milter: from=<s@x.example>, reject=553 5.7.1 Sender banned");
        var client = scanner.Finish().Clients.Single();

        Assert.Equal("192.0.2.2", client.Address.ToString());
        Assert.Equal("other.example", client.ReverseName);
    }

    [Fact]
    public void A_reused_pid_never_blames_the_client_of_an_earlier_session()
    {
        var scanner = Scanner(new ScanLimits());
        // An innocent sender's accepted messages; hours later another client's sessions get the same pids
        // (sendmail logs no "connect from" at its default LogLevel).
        for (var i = 1; i <= 5; i++)
            scanner.Feed($"Nov 28 06:0{i}:00 mx1 sm-mta[300{i}]: sAS0600a00030{i}: from=<news@big.example>, size=1200, class=0, nrcpts=1, msgid=<{i}@big.example>, proto=ESMTPS, daemon=MTA, relay=out.big.example [192.0.2.10]");
        for (var i = 1; i <= 5; i++)
        {
            scanner.Feed($"Nov 28 09:0{i}:00 mx1 sm-mta[300{i}]: sAS0900b00030{i}: Milter: to=<nobody{i}@example.com>, reject=550 5.1.1 <nobody{i}@example.com>... User unknown");
            scanner.Feed($"Nov 28 09:0{i}:00 mx1 milterhost[900]: sAS0900b00030{i}: decision=reject stage=rcpt client=[198.51.100.66] from=<x@evil.example> to=<nobody{i}@example.com> filter=recipients rule=unknown reply=\"550 5.1.1 User unknown\"");
            scanner.Feed($"Nov 28 09:0{i}:01 mx1 sm-mta[300{i}]: sAS0900b00030{i}: from=<x@evil.example>, size=0, class=0, nrcpts=0, proto=ESMTP, daemon=MTA, relay=[198.51.100.66]");
        }
        var result = scanner.Finish();

        var client = Assert.Single(result.Clients);
        Assert.Equal("198.51.100.66", client.Address.ToString());
        Assert.Equal(5, client.Count);
        Assert.Equal(5, result.Duplicates);
    }

    [Fact]
    public void Milterhost_is_no_session_a_local_submission_is_never_blamed_on_its_last_remote_client()
    {
        var scanner = Scanner(new ScanLimits());
        scanner.Feed("Nov 28 06:00:00 mx1 milterhost[900]: sAS0600a000600: decision=reject stage=rcpt client=[198.51.100.5] from=<s@example.net> to=<r@example.org> filter=relay rule=relay reply=\"550 5.7.1 Relaying denied\"");
        for (var i = 1; i <= 5; i++)
        {
            scanner.Feed($"Nov 28 06:1{i}:00 mx1 milterhost[900]: sAS0610a00061{i}: decision=reject stage=rcpt client=local from=<www@mx1.example.com> to=<typo{i}@example.com> filter=recipients rule=unknown reply=\"550 5.1.1 User unknown\"");
            scanner.Feed($"Nov 28 06:1{i}:01 mx1 sm-mta[70{i}]: sAS0610a00061{i}: from=<www@mx1.example.com>, size=0, class=0, nrcpts=0, proto=SMTP, daemon=MTA, relay=www@localhost");
        }
        var result = scanner.Finish();

        var client = Assert.Single(result.Clients);
        Assert.Equal("198.51.100.5", client.Address.ToString());
        Assert.Equal(1, client.Count);
        Assert.Equal(5, result.Unattributed);
    }
}
