using System.Net;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Time.Testing;
using Milter.Filters.Configuration;
using Milter.Filters.Context;
using Milter.Filters.Dns;
using Milter.Filters.Relay;
using Milter.Filters.Tests.Support;
using Milter.TestSupport;

namespace Milter.Filters.Tests.Dns;

/// <summary>
/// The <c>spf</c> filter against a real DNS server (dnsmasq): a <c>fail</c> is refused at RCPT only
/// with <c>reject_fail</c>, never for trusted or authenticated clients nor for exempt recipients;
/// softfail, neutral, none and errors never refuse; <c>add_header</c> prepends <c>Received-SPF</c>
/// and removes the copies the message arrived with that claim this host.
/// </summary>
public sealed class SpfRefusalTests : IAsyncLifetime
{
    private const string Outsider = "203.0.113.9";
    private const string FailReply = "550 5.7.23 SPF fail: fail.example does not permit 203.0.113.9 to send its mail";
    private static readonly TraceStamp Stamp = new("milterhost-9.8.7", "fallback.example");

    private readonly FakeTimeProvider _clock = new(new DateTimeOffset(2026, 12, 5, 14, 0, 0, TimeSpan.Zero));
    private PrivateDns _dns = null!;
    private DnsResolver _resolver = null!;

    public async Task InitializeAsync()
    {
        _dns = await PrivateDns.StartAsync(new PrivateDnsRecords()
            .Txt("fail.example", "v=spf1 ip4:192.0.2.0/24 -all")
            .Txt("soft.example", "v=spf1 ip4:192.0.2.0/24 ~all")
            .Txt("neutral.example", "v=spf1 ip4:192.0.2.0/24 ?all")
            .Txt("broken.example", "v=spf1 include:nowhere.example -all")
            .Txt("nospf.example", "site-verification=77")
            .Txt("mx.helo.example", "v=spf1 -all"), "127.0.0.56");
        _resolver = new DnsResolver([_dns.Endpoint], TimeSpan.FromSeconds(2), _clock);
    }

    public async Task DisposeAsync()
    {
        _resolver.Dispose();
        await _dns.DisposeAsync();
    }

    private static SpfOptions Refusing => new() { RejectFail = true };

    private FilterChain Chain(SpfOptions spf)
    {
        var options = new MilterOptions
        {
            LocalDomains = ["example.com"],
            Relay = new RelayOptions { AllowClients = [IPNetwork.Parse("198.51.100.0/24")] },
            Recipients = new RecipientsOptions { RejectUnknown = false },
            Greylist = new GreylistOptions { Enabled = false },
            Spf = spf,
            Dns = new DnsOptions { Timeout = TimeSpan.FromSeconds(2) },
        };
        var checks = new DnsChecks(_resolver, options, _clock, NullLogger<DnsChecks>.Instance);
        return new FilterChainFactory(_clock, NullLoggerFactory.Instance).Create(options, new FilterChainInputs
        {
            LocalDomains = new LocalDomains(["example.com"]),
            Greylist = [new SpfFilter(spf, checks, Stamp)],
        });
    }

    private static Task<TransactionResult> SendAsync(FilterChain chain, string client, string sender, params string[] recipients)
    {
        var transaction = Transaction.From(client).Helo("mx.sender.example").MailFrom(sender);
        foreach (var recipient in recipients)
            transaction.RcptTo(recipient);
        return transaction.RunAsync(chain);
    }

    [Fact]
    public async Task A_fail_is_refused_at_rcpt_with_550_5_7_23_and_the_rule_named()
    {
        var result = await SendAsync(Chain(Refusing), Outsider, "ann@fail.example", "bob@example.com");

        Assert.Equal(FailReply, result.Rcpt("bob@example.com"));
        Assert.Equal(("spf", "spf:fail", "rcpt"), (result.SingleDecision.Filter, result.SingleDecision.Rule, result.SingleDecision.Stage));
    }

    [Theory]
    [InlineData("<ann@fail.example>x@nospf.example")]     // sendmail's sender is the one inside the brackets
    [InlineData("<x@nospf.example<ann@fail.example>>")]   // the innermost one
    [InlineData("<ann@fail.example(comment)>")]           // without its comments
    [InlineData("<ann@(comment)fail.example>")]
    [InlineData("<@hop.example:ann@fail.example>")]       // and without a source route
    public async Task A_fail_is_refused_however_the_client_dresses_the_sender(string sender)
    {
        var result = await SendAsync(Chain(Refusing), Outsider, sender, "bob@example.com");

        Assert.Equal(FailReply, result.Rcpt("bob@example.com"));
    }

    [Fact]
    public async Task A_fail_is_not_refused_while_reject_fail_is_off()
    {
        var result = await SendAsync(Chain(new SpfOptions { AddHeader = true }), Outsider, "ann@fail.example", "bob@example.com");

        Assert.Equal("continue", result.Rcpt("bob@example.com"));
        Assert.Empty(result.Decisions);
    }

    [Fact]
    public async Task A_client_the_record_names_passes()
    {
        var result = await SendAsync(Chain(Refusing), "192.0.2.5", "ann@fail.example", "bob@example.com");

        Assert.Equal("continue", result.Rcpt("bob@example.com"));
    }

    [Theory]
    [InlineData("ann@soft.example")]      // ~all: softfail
    [InlineData("ann@neutral.example")]   // ?all: neutral
    [InlineData("ann@broken.example")]    // include: of a domain without a record: permerror
    [InlineData("ann@nospf.example")]     // none
    [InlineData("ann@unknown.example")]   // NXDOMAIN: none
    public async Task Softfail_neutral_none_and_errors_never_refuse(string sender)
    {
        var result = await SendAsync(Chain(Refusing), Outsider, sender, "bob@example.com");

        Assert.Equal("continue", result.Rcpt("bob@example.com"));
        Assert.Empty(result.Decisions);
    }

    [Fact]
    public async Task Postmaster_of_a_local_domain_and_bare_postmaster_are_exempt_by_default_while_others_are_refused()
    {
        var result = await SendAsync(Chain(Refusing), Outsider, "ann@fail.example", "Postmaster@example.com", "postmaster", "bob@example.com");

        Assert.Equal("continue", result.Rcpt("Postmaster@example.com"));
        Assert.Equal("continue", result.Rcpt("postmaster"));
        Assert.Equal(FailReply, result.Rcpt("bob@example.com"));
    }

    [Fact]
    public async Task Exempt_recipients_replace_the_default()
    {
        var result = await SendAsync(Chain(Refusing with { ExemptRecipients = ["abuse@example.com"] }), Outsider, "ann@fail.example",
            "abuse@example.com", "postmaster@example.com");

        Assert.Equal("continue", result.Rcpt("abuse@example.com"));
        Assert.Equal(FailReply, result.Rcpt("postmaster@example.com"));
    }

    [Fact]
    public async Task A_trusted_client_is_never_refused()
    {
        var result = await SendAsync(Chain(Refusing), "198.51.100.7", "ann@fail.example", "bob@example.com");

        Assert.Equal("continue", result.Rcpt("bob@example.com"));
    }

    [Fact]
    public async Task An_authenticated_session_is_never_refused()
    {
        var result = await Transaction.From(Outsider).Auth("ann").Helo("laptop").MailFrom("ann@fail.example").RcptTo("bob@example.com").RunAsync(Chain(Refusing));

        Assert.Equal("continue", result.Rcpt("bob@example.com"));
    }

    [Fact]
    public async Task The_null_sender_is_checked_by_its_helo_name()
    {
        var chain = Chain(Refusing);

        var bounce = await Transaction.From(Outsider).Helo("mx.helo.example").MailFrom("<>").RcptTo("bob@example.com").RunAsync(chain);
        var unchecked_ = await Transaction.From(Outsider).Helo("mx.sender.example").MailFrom("<>").RcptTo("bob@example.com").RunAsync(chain);

        Assert.Equal("550 5.7.23 SPF fail: the HELO name mx.helo.example does not permit 203.0.113.9 to send its mail", bounce.Rcpt("bob@example.com"));
        Assert.Equal("continue", unchecked_.Rcpt("bob@example.com"));
    }

    [Fact]
    public async Task With_add_header_the_result_is_prepended_as_received_spf()
    {
        var result = await SendAsync(Chain(new SpfOptions { AddHeader = true }), Outsider, "ann@soft.example", "bob@example.com");

        Assert.Equal(
            ["insert 0 Received-SPF: softfail (mx.example.com: domain of transitioning ann@soft.example does not designate 203.0.113.9 as permitted sender) "
                + "receiver=mx.example.com; client-ip=203.0.113.9; envelope-from=\"ann@soft.example\"; helo=mx.sender.example; identity=mailfrom;"],
            result.HeaderChanges);
    }

    [Fact]
    public async Task Incoming_received_spf_headers_claiming_this_host_are_removed_and_others_kept()
    {
        var result = await Transaction.From(Outsider).Helo("mx.sender.example").MailFrom("ann@fail.example").RcptTo("bob@example.com")
            .Header("Received-SPF", "pass (mx.example.com: domain of ann@fail.example designates 203.0.113.9 as permitted sender)")
            .Header("Received-SPF", "pass (relay.other.example: domain of ann@fail.example designates 192.0.2.1 as permitted sender) receiver=relay.other.example;")
            .Header("received-spf", "pass client-ip=203.0.113.9; receiver=MX.EXAMPLE.COM.;")
            .Header("Received-SPF", "pass (fallback.example: forged too)")
            .RunAsync(Chain(new SpfOptions { AddHeader = true }));

        Assert.Equal(["remove 4 Received-SPF", "remove 3 Received-SPF", "remove 1 Received-SPF"], result.HeaderChanges.Take(3));
        Assert.StartsWith("insert 0 Received-SPF: fail (mx.example.com: domain of ann@fail.example does not designate 203.0.113.9", result.HeaderChanges[3]);
        Assert.Equal(4, result.HeaderChanges.Count);
    }

    [Fact]
    public async Task Trusted_clients_get_no_header()
    {
        var result = await SendAsync(Chain(new SpfOptions { AddHeader = true }), "198.51.100.7", "ann@fail.example", "bob@example.com");

        Assert.Empty(result.HeaderChanges);
    }

    [Fact]
    public void The_client_s_text_is_quoted_so_it_cannot_end_the_header_or_add_a_field()
    {
        var value = ReceivedSpf.Value(new SpfCheck("x.example", SpfResult.Fail), IPAddress.Parse("2001:db8::5"),
            "a\"b\\c(d)@x.example", "evil\r\nX-Injected: 1; receiver=mx", "mx.example.com");

        Assert.Equal(
            "fail (mx.example.com: domain of a\"b\\\\c\\(d\\)@x.example does not designate 2001:db8::5 as permitted sender) receiver=mx.example.com; "
            + "client-ip=\"2001:db8::5\"; envelope-from=\"a\\\"b\\\\c(d)@x.example\"; helo=\"evilX-Injected: 1; receiver=mx\"; identity=mailfrom;",
            value);
        Assert.DoesNotContain('\n', value);
    }

    [Fact]
    public void Bidi_overrides_and_invisible_tags_in_the_client_s_text_are_dropped()
    {
        // U+202E turns what follows around on screen; U+E0041 (a tag, outside the BMP) is invisible.
        var value = ReceivedSpf.Value(new SpfCheck("x.example", SpfResult.Pass), IPAddress.Parse("192.0.2.1"),
            "ann\u202Eelpmaxe@x.example\U000E0041", "mx\u200Bhelo", "mx.example.com");

        Assert.Equal(
            "pass (mx.example.com: domain of annelpmaxe@x.example designates 192.0.2.1 as permitted sender) receiver=mx.example.com; "
            + "client-ip=192.0.2.1; envelope-from=\"annelpmaxe@x.example\"; helo=\"mxhelo\"; identity=mailfrom;",
            value);
    }

    [Fact]
    public void Needs_follow_the_switches()
    {
        var checks = new DnsChecks(_resolver, new MilterOptions(), _clock, NullLogger<DnsChecks>.Instance);

        Assert.Equal(FilterNeeds.None, new SpfFilter(new SpfOptions(), checks).Needs);
        var refusing = new SpfFilter(Refusing, checks).Needs;
        Assert.Equal(Protocol.Negotiation.MilterStages.Mail | Protocol.Negotiation.MilterStages.Rcpt, refusing.Stages);
        Assert.Equal(Protocol.Negotiation.MilterStages.Rcpt, refusing.Replies);
        Assert.Equal(Protocol.Negotiation.ActionFlags.None, refusing.Actions);
        var marking = new SpfFilter(new SpfOptions { AddHeader = true }, checks).Needs;
        Assert.Equal(["Received-SPF"], marking.HeaderNames);
        Assert.Equal(Protocol.Negotiation.MilterStages.None, marking.Replies);
        Assert.Equal(Protocol.Negotiation.ActionFlags.AddHeaders | Protocol.Negotiation.ActionFlags.ChangeHeaders, marking.Actions);
    }
}
