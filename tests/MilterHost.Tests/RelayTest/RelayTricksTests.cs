using System.Net;
using MilterHost.Tools.RelayTest;

namespace MilterHost.Tests.RelayTest;

public sealed class RelayTricksTests
{
    [Fact]
    public void Tricks_aim_every_classic_relay_syntax_at_the_foreign_mailbox()
    {
        var tricks = RelayTricks.Build("relay-test@example.net", "victim@foreign.example", "example.com", "mx.example.com", IPAddress.Parse("192.0.2.25"));

        Assert.Equal(
        [
            ("foreign sender", "relay-test@example.net", "victim@foreign.example"),
            ("null sender", "", "victim@foreign.example"),
            ("local sender", "postmaster@example.com", "victim@foreign.example"),
            ("percent hack", "relay-test@example.net", "victim%foreign.example@example.com"),
            ("percent hack, unqualified", "relay-test@example.net", "victim%foreign.example"),
            ("bang path", "relay-test@example.net", "foreign.example!victim@example.com"),
            ("bang path, unqualified", "relay-test@example.net", "foreign.example!victim"),
            ("quoted local part", "relay-test@example.net", "\"victim@foreign.example\"@example.com"),
            ("double at", "relay-test@example.net", "victim@foreign.example@example.com"),
            ("source route", "relay-test@example.net", "@example.com:victim@foreign.example"),
            ("percent hack, own name", "relay-test@example.net", "victim%foreign.example@mx.example.com"),
            ("source route, own name", "relay-test@example.net", "@mx.example.com:victim@foreign.example"),
            ("percent hack, IP literal", "relay-test@example.net", "victim%foreign.example@[192.0.2.25]"),
            ("double at, IP literal", "relay-test@example.net", "victim@foreign.example@[192.0.2.25]"),
            ("quoted local part, IP literal", "relay-test@example.net", "\"victim@foreign.example\"@[192.0.2.25]"),
            ("bang path, IP literal", "relay-test@example.net", "foreign.example!victim@[192.0.2.25]"),
            ("trailing dot", "relay-test@example.net", "victim@foreign.example."),
            ("percent hack, trailing dot", "relay-test@example.net", "victim%foreign.example@example.com."),
            ("unqualified domain", "relay-test@example.net", "victim@foreign"),
        ],
        tricks.Select(t => (t.Name, t.MailFrom, t.RcptTo)));
    }

    [Fact]
    public void Without_a_host_name_the_own_name_tricks_are_left_out_and_ipv6_literals_are_tagged()
    {
        var tricks = RelayTricks.Build("a@example.net", "b@example.org", "example.com", null, IPAddress.Parse("2001:db8::25"));

        Assert.DoesNotContain(tricks, t => t.Name.EndsWith("own name", StringComparison.Ordinal));
        Assert.Contains(tricks, t => t.RcptTo == "b%example.org@[IPv6:2001:db8::25]");
    }

    [Theory]
    [InlineData("mx.example.com", "example.com")]
    [InlineData("mail.dept.example.co.uk", "dept.example.co.uk")]
    [InlineData("example.com", "example.com")]
    [InlineData("mx.example.com.", "example.com")]
    [InlineData("localhost", "localhost")]
    public void Local_domain_is_the_parent_of_the_greeting_name(string hostName, string domain) =>
        Assert.Equal(domain, RelayTricks.LocalDomainOf(hostName));

    [Theory]
    [InlineData("127.0.0.1", "[127.0.0.1]")]
    [InlineData("::ffff:192.0.2.1", "[192.0.2.1]")]
    [InlineData("::1", "[IPv6:::1]")]
    public void Ip_literal_is_written_as_rfc_5321_does(string address, string literal) =>
        Assert.Equal(literal, RelayTricks.IpLiteral(IPAddress.Parse(address)));

    [Theory]
    [InlineData("mx.example.com", "mx.example.com", 25)]
    [InlineData("mx.example.com:2525", "mx.example.com", 2525)]
    [InlineData("192.0.2.1:587", "192.0.2.1", 587)]
    [InlineData("[2001:db8::1]:2525", "2001:db8::1", 2525)]
    [InlineData("2001:db8::1", "2001:db8::1", 25)]
    public void Target_is_host_and_port_25_unless_given(string text, string host, int port)
    {
        Assert.True(RelayTarget.TryParse(text, out var target, out var error), error);
        Assert.Equal(new RelayTarget(host, port), target);
    }

    [Theory]
    [InlineData("mx.example.com:0")]
    [InlineData("mx.example.com:99999")]
    [InlineData("[2001:db8::1]2525")]
    [InlineData("bad host")]
    [InlineData("")]
    public void Malformed_target_is_refused(string text)
    {
        Assert.False(RelayTarget.TryParse(text, out _, out var error));
        Assert.Equal($"'{text}' is not HOST, HOST:PORT or [IPv6]:PORT", error);
    }

    [Fact]
    public void Reply_lines_are_gathered_until_the_last_one()
    {
        var lines = new List<string>();

        var first = ServerReply.Accumulate(lines, "250-mx.example.com Hello");
        var second = ServerReply.Accumulate(lines, "250-PIPELINING");
        var last = ServerReply.Accumulate(lines, "250 HELP");

        Assert.Null(first);
        Assert.Null(second);
        Assert.Equal(250, last!.Code);
        Assert.Equal(["250-mx.example.com Hello", "250-PIPELINING", "250 HELP"], last.Lines);
        Assert.Equal("250-mx.example.com Hello", last.Text);
    }

    [Theory]
    [InlineData("354", 354, true, false)]
    [InlineData("451 4.7.1 Greylisted", 451, false, true)]
    [InlineData("550 5.7.1 Relaying denied", 550, false, false)]
    public void Reply_code_decides_the_kind(string line, int code, bool positive, bool transient)
    {
        var reply = ServerReply.Accumulate([], line)!;

        Assert.Equal((code, positive, transient), (reply.Code, reply.IsPositive, reply.IsTransient));
    }

    [Theory]
    [InlineData("HTTP/1.1 400 Bad Request")]
    [InlineData("25")]
    [InlineData("250Hello")]
    [InlineData("650 too big")]
    public void Line_that_is_no_smtp_reply_is_refused(string line)
    {
        var error = Assert.Throws<FormatException>(() => ServerReply.Accumulate([], line));
        Assert.StartsWith("not an SMTP reply line: ", error.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("250 ok", RelayVerdict.Accepted)]
    [InlineData("251 User not local; will forward", RelayVerdict.Accepted)]
    [InlineData("450 4.2.0 try later", RelayVerdict.Deferred)]
    [InlineData("553 5.1.3 bad address", RelayVerdict.Refused)]
    public void Rcpt_reply_gives_the_verdict(string line, RelayVerdict verdict) =>
        Assert.Equal(verdict, RelayAttempt.Judge(ServerReply.Accumulate([], line)!));
}
