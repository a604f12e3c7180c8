using MilterHost.Tools.LogScan;

namespace MilterHost.Tests.LogScan;

public sealed class MaillogMessageParserTests
{
    [Theory]
    [InlineData("sm-mta", "s1P819mk027713: ruleset=check_rcpt, arg1=<x@example.net>, relay=128-68-136-133.example.ru [192.0.2.33], reject=550 5.7.1 <x@example.net>... Relaying denied. Proper authentication required.",
        EventKind.RelayDenied, "192.0.2.33", "128-68-136-133.example.ru")]
    [InlineData("sm-mta", "s1REn1un088377: ruleset=check_rcpt, arg1=<nobody@example.com>, relay=dsl.example.br [192.0.2.74], reject=550 5.1.1 <nobody@example.com>... User unknown",
        EventKind.UserUnknown, "192.0.2.74", "dsl.example.br")]
    [InlineData("sm-mta", "s1N7vR47006519: ruleset=check_rcpt, arg1=<a@example.pt>, relay=[192.0.2.27], reject=553 5.1.8 <a@example.pt>... Domain of sender address b@example.com does not exist",
        EventKind.Reject5xx, "192.0.2.27", null)]
    [InlineData("sm-mta", "s1O7XtZJ021134: ruleset=check_mail, arg1=<spam@example.org>, relay=host.example [192.0.2.57] (may be forged), reject=553 5.1.8 <spam@example.org>... Domain of sender address spam@example.org does not exist",
        EventKind.Reject5xx, "192.0.2.57", "host.example")]
    [InlineData("sm-mta", "ruleset=check_relay, arg1=leased.example.by, arg2=192.0.2.82, relay=leased.example.by [192.0.2.82], reject=421 4.3.2 Connection rate limit exceeded.",
        EventKind.Reject4xx, "192.0.2.82", "leased.example.by")]
    [InlineData("sendmail", "06I02CNi016764: AUTH failure (LOGIN): authentication failure (-13) SASL(-13): authentication failure: checkpass failed, user=user@example.com, relay=example.com [192.0.2.3] (may be forged)",
        EventKind.AuthFailure, "192.0.2.3", "example.com")]
    [InlineData("sendmail", "06I02CNi016765: AUTH failure (LOGIN): authentication failure (-13) SASL(-13): authentication failure: checkpass failed, user=criminal, relay=[192.0.2.100], relay=[192.0.2.4] (may be forged)",
        EventKind.AuthFailure, "192.0.2.4", null)]
    [InlineData("sm-mta", "s1GNeNqe005178: cpe.example.com [192.0.2.191]: possible SMTP attack: command=AUTH, count=5",
        EventKind.SmtpAttack, "192.0.2.191", "cpe.example.com")]
    [InlineData("sm-mta", "v27K4Vj8018624: some-host-24.example.org [192.0.2.195] (may be forged) did not issue MAIL/EXPN/VRFY/ETRN during connection to MSP-v4",
        EventKind.NoMailCommand, "192.0.2.195", "some-host-24.example.org")]
    [InlineData("sendmail", "xA32R2PQ3529565: [192.0.2.2] did not issue MAIL/EXPN/VRFY/ETRN during connection to MTA",
        EventKind.NoMailCommand, "192.0.2.2", null)]
    [InlineData("sm-mta", "s1IHYWxQ005589: lost input channel from [192.0.2.74] to MTA after rcpt",
        EventKind.LostInput, "192.0.2.74", null)]
    [InlineData("sm-mta", "s1R9r60D044307: rejecting commands from  [192.0.2.253] due to pre-greeting traffic after 0 seconds",
        EventKind.PreGreeting, "192.0.2.253", null)]
    [InlineData("sm-mta", "u9A0GtpL018001: rejecting commands from example.com [192.0.2.4] due to pre-greeting traffic after 6 seconds",
        EventKind.PreGreeting, "192.0.2.4", "example.com")]
    [InlineData("sm-mta", "NOQUEUE: Possible SYNFLOOD attack from [192.0.2.9]",
        EventKind.SynFlood, "192.0.2.9", null)]
    [InlineData("sm-mta", "06QDQnNf050438: example.com [IPv6:2001:DB8:0:0:0:0:0:1] did not issue MAIL/EXPN/VRFY/ETRN during connection to IPv6",
        EventKind.NoMailCommand, "2001:db8::1", "example.com")]
    [InlineData("sm-mta", "s1P819mk027799: Milter: connect: host=bad.example, addr=192.0.2.66, rejecting commands",
        EventKind.MilterReject, "192.0.2.66", "bad.example")]
    [InlineData("milterhost", "s1P819mk027713: decision=reject client=dyn.example [192.0.2.200] from=<s@example.net> to=<r@example.org> filter=relay rule=relay reply=\"550 5.7.1 Relaying denied\"",
        EventKind.RelayDenied, "192.0.2.200", "dyn.example")]
    [InlineData("milterhost", "filter=recipients to=<u@example.com> client=[192.0.2.201] decision=reject rule=unknown-recipient reply=\"550 5.1.1 User unknown\"",
        EventKind.UserUnknown, "192.0.2.201", null)]
    [InlineData("milterhost", "NOQUEUE: decision=reject client=192.0.2.202 filter=ban rule=ban#2 reply=\"554 5.7.1 Go away\"",
        EventKind.MilterReject, "192.0.2.202", null)]
    // Exactly as MilterHost.Logging.DecisionLog writes it.
    [InlineData("milterhost", "6ASKqX0x009129: decision=reject stage=rcpt client=mail.example.net [2001:db8::25] from=<a@b.example> to=<c@d.example> filter=relay rule=relay reply=\"550 5.7.1 Relaying denied\"",
        EventKind.RelayDenied, "2001:db8::25", "mail.example.net")]
    [InlineData("milterhost", "NOQUEUE: decision=reject stage=connect client=[192.0.2.203] filter=ban rule=ban#1 reply=\"550 5.7.1 Access denied\"",
        EventKind.MilterReject, "192.0.2.203", null)]
    public void Event_lines_name_kind_and_client(string program, string message, EventKind kind, string ip, string? name)
    {
        var parsed = MaillogMessageParser.Parse(program, message);

        Assert.Equal(LineRole.Event, parsed.Role);
        Assert.Equal(kind, parsed.Kind);
        Assert.NotNull(parsed.Client);
        Assert.Equal(ip, parsed.Client.Value.Address.ToString());
        Assert.Equal(name, parsed.Client.Value.Name);
    }

    [Theory]
    [InlineData("Milter: to=<a@example.com>, reject=550 5.7.1 Command rejected", EventKind.MilterReject)]
    [InlineData("Milter: from=<a@example.com>, reject=553 5.7.1 Sender banned", EventKind.MilterReject)]
    [InlineData("Milter: to=<a@example.com>, reject=550 5.7.1 <a@example.com>... Relaying denied", EventKind.RelayDenied)]
    [InlineData("<nobody@example.com>... User unknown", EventKind.UserUnknown)]
    public void Refusals_without_address_wait_for_their_queue_id(string body, EventKind kind)
    {
        var parsed = MaillogMessageParser.Parse("sm-mta", "rA37ZTSC026254: " + body);

        Assert.Equal(LineRole.Event, parsed.Role);
        Assert.Equal(kind, parsed.Kind);
        Assert.Null(parsed.Client);
        Assert.Equal("rA37ZTSC026254", parsed.QueueId);
    }

    [Theory]
    [InlineData("sm-mta", "p592kBc0012753: Milter: to=<a@example.com>, reject=451 4.7.1 Greylisted, try again later")]
    [InlineData("milterhost", "p592kBc0012753: decision=tempfail client=[192.0.2.1] to=<a@example.com> filter=greylist rule=greylist reply=\"451 4.7.1 Greylisted\"")]
    [InlineData("sm-mta", "p592kBc0012753: to=<es821@example.com>, delay=00:00:11, mailer=esmtp, pri=304741, relay=mx.example.com. [192.0.2.8], dsn=4.4.3, stat=queued")]
    [InlineData("sm-mta", "AUTH: available mech=LOGIN DIGEST-MD5 CRAM-MD5, allowed mech=EXTERNAL GSSAPI DIGEST-MD5 CRAM-MD5 LOGIN")]
    [InlineData("sm-mta", "p592kBc0012753: Milter: no active filter")]
    // A filter in monitor mode refused nobody: the sender was told to continue.
    [InlineData("milterhost", "p592kBc0012753: decision=reject stage=mail client=[192.0.2.1] from=<s@example.net> filter=ban rule=\"ban#1 (line 3)\" reply=\"550 5.7.1 Access denied\" applied=no")]
    [InlineData("milterhost", "p592kBc0012753: applied=no decision=discard stage=mail client=[192.0.2.1] from=<s@example.net> filter=ban rule=ban#2")]
    [InlineData("milterhost", "NOQUEUE: decision=reject stage=rcpt client=[192.0.2.1] to=<u@example.org> filter=recipients rule=unknown reply=\"550 5.1.1 User unknown\" applied=no")]
    public void Greylisting_deliveries_and_chatter_are_not_events(string program, string message)
    {
        Assert.Equal(LineRole.Other, MaillogMessageParser.Parse(program, message).Role);
    }

    [Fact]
    public void Envelope_line_ties_queue_id_to_the_last_relay()
    {
        var parsed = MaillogMessageParser.Parse("sendmail",
            "rA37ZTSC026254: from=<x@example.com>, size=0, class=0, nrcpts=0, msgid=<a, relay=[192.0.2.99]>, bodytype=8BITMIME, proto=ESMTP, daemon=MTA, relay=163.dsl.example.ru [192.0.2.163]");

        Assert.Equal(LineRole.Envelope, parsed.Role);
        Assert.Equal("rA37ZTSC026254", parsed.QueueId);
        Assert.Equal("192.0.2.163", parsed.Client!.Value.Address.ToString());
    }

    [Fact]
    public void Envelope_line_of_a_local_submission_has_no_client()
    {
        var parsed = MaillogMessageParser.Parse("sm-mta",
            "29R0xxv1023675: from=root, size=310, class=0, nrcpts=1, msgid=<1@host.example>, relay=root@localhost");

        Assert.Equal(LineRole.Envelope, parsed.Role);
        Assert.True(parsed.LocalSubmission);
        Assert.Null(parsed.Client);
    }

    [Fact]
    public void Connect_line_names_the_client_of_the_pid()
    {
        var parsed = MaillogMessageParser.Parse("sendmail", "NOQUEUE: connect from 118-166-210-150.example [192.0.2.150]");

        Assert.Equal(LineRole.Connect, parsed.Role);
        Assert.Equal("192.0.2.150", parsed.Client!.Value.Address.ToString());
        Assert.Equal("118-166-210-150.example", parsed.Client.Value.Name);
    }
}
