using System.Net;
using Microsoft.Extensions.Logging.Testing;
using Milter.Filters.Configuration;
using Milter.Filters.Relay;
using Milter.Filters.Tests.Support;

namespace Milter.Filters.Tests.Relay;

public sealed class RelayFilterTests
{
    private static FilterChain Chain(RelayOptions? options = null) => new(
        [new RelayFilter(options ?? new RelayOptions
        {
            AllowClients = [IPNetwork.Parse("127.0.0.0/8"), IPNetwork.Parse("::1/128"), IPNetwork.Parse("198.51.100.0/24"), IPNetwork.Parse("2001:db8:aa::/48")],
        }, new LocalDomains(["example.com", ".hosted.example"]))],
        OnError.Tempfail, new FakeLogger<FilterChain>());

    public static TheoryData<string> Tricks => new()
    {
        "bob@remote.example",
        "user%remote.example@example.com",
        "\"user@remote.example\"@example.com",
        "remote.example!user@example.com",
        "@example.com:user@remote.example",
        "user@remote.example.",
        "USER%REMOTE.EXAMPLE@EXAMPLE.COM",
        "user@[192.0.2.99]",
        "user@example.com@remote.example",
    };

    [Theory]
    [MemberData(nameof(Tricks))]
    public async Task A_foreign_or_routed_recipient_from_an_outside_client_is_refused(string recipient)
    {
        var result = await Transaction.From("203.0.113.9", "mx.outside.example").Helo("mx.outside.example")
            .MailFrom("spammer@outside.example").RcptTo(recipient).RcptTo("bob@example.com")
            .RunAsync(Chain());

        Assert.Equal($"550 5.7.1 Relaying denied", result.Rcpt(recipient));
        Assert.Equal("continue", result.Rcpt("bob@example.com"));
        var d = result.SingleDecision;
        Assert.Equal(("rcpt", "relay", "relay", recipient), (d.Stage, d.Filter, d.Rule, d.Recipient));
    }

    [Theory]
    [InlineData("bob@\u212Aelvin.example")]      // KELVIN SIGN, which Unicode lower-cases to "k"
    [InlineData("bob@\u0131nfo.example")]        // dotless i, which Unicode upper-cases to "I"
    [InlineData("bob@\u0130nfo.example")]        // dotted capital I, which Unicode lower-cases to "i"
    public async Task A_non_ascii_domain_that_folds_onto_a_local_one_is_foreign(string recipient)
    {
        var chain = new FilterChain([new RelayFilter(new RelayOptions(), new LocalDomains(["kelvin.example", "info.example"]))],
            OnError.Tempfail, new FakeLogger<FilterChain>());

        var result = await Transaction.From("203.0.113.9").MailFrom("a@outside.example").RcptTo(recipient).RcptTo("bob@KELVIN.example").RunAsync(chain);

        Assert.Equal("550 5.7.1 Relaying denied", result.Rcpt(recipient));
        Assert.Equal("continue", result.Rcpt("bob@KELVIN.example"));
    }

    [Fact]
    public void A_non_ascii_domain_keeps_its_characters()
    {
        Assert.Equal("\u212Aelvin.example", RecipientAddress.Parse("bob@\u212Aelvin.example").Domain);
        Assert.Equal("\u0130nfo.example", RecipientAddress.Parse("bob@\u0130NFO.Example").Domain);
    }

    [Theory]
    [InlineData("bob@example.com")]
    [InlineData("BOB@Example.Com.")]
    [InlineData("alice@mail.hosted.example")]
    [InlineData("postmaster")]
    public async Task A_local_recipient_from_an_outside_client_passes(string recipient)
    {
        var result = await Transaction.From("203.0.113.9").MailFrom("a@outside.example").RcptTo(recipient).RunAsync(Chain());
        Assert.Equal("continue", result.Rcpt(recipient));
    }

    [Theory]
    [InlineData("127.0.0.1")]
    [InlineData("198.51.100.200")]
    [InlineData("::1")]
    [InlineData("2001:db8:aa:ff::25")]
    public async Task An_allowed_client_may_relay(string client)
    {
        var result = await Transaction.From(client).MailFrom("a@example.com").RcptTo("x@remote.example").RunAsync(Chain());
        Assert.Equal("continue", result.Rcpt("x@remote.example"));
    }

    [Theory]
    [InlineData("198.51.101.1")]
    [InlineData("2001:db8:ab::25")]
    [InlineData("::ffff:203.0.113.9")]
    public async Task A_client_just_outside_the_allowed_networks_may_not(string client)
    {
        var result = await Transaction.From(client).MailFrom("a@example.com").RcptTo("x@remote.example").RunAsync(Chain());
        Assert.Equal("550 5.7.1 Relaying denied", result.Rcpt("x@remote.example"));
    }

    [Fact]
    public async Task An_authenticated_session_may_relay()
    {
        var result = await Transaction.From("203.0.113.9").Auth("alice").MailFrom("alice@example.com").RcptTo("x@remote.example").RunAsync(Chain());
        Assert.Equal("continue", result.Rcpt("x@remote.example"));
    }

    [Fact]
    public async Task Authentication_does_not_count_when_allow_authenticated_is_off()
    {
        var result = await Transaction.From("203.0.113.9").Auth("alice").MailFrom("alice@example.com").RcptTo("x@remote.example")
            .RunAsync(Chain(new RelayOptions { AllowAuthenticated = false }));
        Assert.Equal("550 5.7.1 Relaying denied", result.Rcpt("x@remote.example"));
    }

    [Fact]
    public async Task A_local_submission_may_relay()
    {
        var result = await Transaction.Local().MailFrom("root").RcptTo("x@remote.example").RunAsync(Chain(new RelayOptions { AllowClients = [] }));
        Assert.Equal("continue", result.Rcpt("x@remote.example"));
    }

    [Fact]
    public async Task A_submission_through_Postfixs_sendmail_command_is_local_and_may_relay()
    {
        var result = await Transaction.PostfixSendmailCommand().Helo("localhost").MailFrom("root@example.com").RcptTo("x@remote.example")
            .RunAsync(Chain(new RelayOptions { AllowClients = [] }));

        Assert.Equal("continue", result.Rcpt("x@remote.example"));
    }

    [Fact]
    public async Task A_loopback_TCP_client_is_no_local_submission()
    {
        var result = await Transaction.From("127.0.0.1", "localhost").MailFrom("root@example.com").RcptTo("x@remote.example")
            .RunAsync(Chain(new RelayOptions { AllowClients = [] }));

        Assert.Equal("550 5.7.1 Relaying denied", result.Rcpt("x@remote.example"));
    }

    [Fact]
    public async Task The_reply_leaves_the_address_to_sendmail_which_prefixes_it_itself()
    {
        var result = await Transaction.From("203.0.113.9").MailFrom("a@outside.example").RcptTo("u%s@example.com").RunAsync(Chain());
        var reply = result.SingleDecision.Verdict.Reply!;
        Assert.Equal("550 5.7.1 Relaying denied", reply.ToWireText());
    }
}
