using System.Net;
using Microsoft.Extensions.Logging.Testing;
using Microsoft.Extensions.Time.Testing;
using Milter.Filters.Ban;
using Milter.Filters.Configuration;
using Milter.Filters.Stores;
using Milter.Filters.Tests.Support;
using Milter.Protocol.Negotiation;
using Milter.Protocol.Replies;

namespace Milter.Filters.Tests.Ban;

public sealed class BanFilterTests
{
    private readonly FakeTimeProvider _time = new(new DateTimeOffset(2026, 3, 1, 12, 0, 0, TimeSpan.Zero));
    private readonly MemoryBanStore _store = new();

    private FilterChain Chain(params BanRule[] rules) =>
        new([new BanFilter(rules, _store, _time)], OnError.Tempfail, new FakeLogger<FilterChain>());

    private static BanRule Rule(BanKind kind, string pattern, BanAction action = BanAction.Reject, string? reply = null, string id = "") =>
        new() { Kind = kind, Pattern = pattern, Action = action, Reply = reply, Id = id };

    /// <summary>A whole message from the client, so each kind of rule has its stage.</summary>
    private static Transaction Message(string client = "192.0.2.10", string? name = "mx.sender.example", string helo = "mx.sender.example",
        string sender = "alice@sender.example", string recipient = "bob@example.com", string subject = "Hello") =>
        Transaction.From(client, name).Helo(helo).MailFrom(sender).RcptTo(recipient).Subject(subject).EndOfMessage();

    public static TheoryData<string, string, bool> ClientRules => new()
    {
        { "192.0.2.10", "192.0.2.10", true },
        { "192.0.2.10", "192.0.2.11", false },
        { "192.0.2.0/24", "192.0.2.200", true },
        { "192.0.2.0/25", "192.0.2.200", false },
        { "2001:db8::/32", "2001:db8:1234::25", true },
        { "2001:db8::/32", "2001:db9::25", false },
        { "2001:db8::25", "2001:db8::25", true },
        { "2001:db8::/32", "192.0.2.10", false },
        { "192.0.2.0/24", "::ffff:192.0.2.9", true },
    };

    [Theory]
    [MemberData(nameof(ClientRules))]
    public async Task Client_rules_match_addresses_and_networks_of_both_families(string pattern, string client, bool banned)
    {
        var result = await Message(client: client).RunAsync(Chain(Rule(BanKind.Client, pattern)));
        Assert.Equal(banned ? "550 5.7.1 Access denied" : "continue", result.Connect);
        if (banned)
            Assert.Equal(("connect", "ban", "ban#1"), (result.SingleDecision.Stage, result.SingleDecision.Filter, result.SingleDecision.Rule));
    }

    [Theory]
    [InlineData("*.dynamic.example.net", "pool-1.dynamic.example.net", true)]
    [InlineData("*.dynamic.example.net", "POOL-1.DYNAMIC.example.net", true)]
    [InlineData("*.dynamic.example.net", "dynamic.example.net", false)]
    [InlineData("*", null, false)]                 // sendmail's [addr]: no name, no name rule matches
    [InlineData("*", "unknown", false)]            // Postfix's way of saying the same
    [InlineData("*[192.0.2.10]*", null, false)]
    public async Task Client_name_rules_glob_the_reported_name(string pattern, string? name, bool banned)
    {
        var result = await Message(name: name).RunAsync(Chain(Rule(BanKind.ClientName, pattern)));
        Assert.Equal(banned ? "550 5.7.1 Access denied" : "continue", result.Connect);
    }

    [Theory]
    [InlineData("localhost", "localhost", true)]
    [InlineData("localhost", "LOCALHOST.", true)]
    [InlineData("*.example.com", "mx.example.com", true)]
    [InlineData("localhost", "mx.sender.example", false)]
    public async Task Helo_rules_glob_the_helo_name(string pattern, string helo, bool banned)
    {
        var result = await Message(helo: helo).RunAsync(Chain(Rule(BanKind.Helo, pattern)));
        Assert.Equal(banned ? "550 5.7.1 Access denied" : "continue", result.Heard("EHLO"));
        Assert.Equal(banned ? "(not sent)" : "continue", result.Heard("MAIL FROM"));
    }

    [Theory]
    [InlineData("*@spammer.example", "x@spammer.example", true)]
    [InlineData("*@spammer.example", "x@sub.spammer.example", false)]
    [InlineData("@spammer.example", "X@SPAMMER.EXAMPLE", true)]
    [InlineData("promo@shop.example", "promo@shop.example", true)]
    [InlineData("promo@shop.example", "orders@shop.example", false)]
    [InlineData("/^[a-z]{12}[0-9]{4}@/", "qwertyuiopas1234@free.example", true)]
    [InlineData("/^NEWS@/i", "news@list.example", true)]
    [InlineData("/^NEWS@/", "news@list.example", false)]
    [InlineData("<>", "<>", true)]
    // sendmail takes the sender from inside the angle brackets, without comments or a source route,
    // and hands the milter the text as written: a rule holds for the mailbox sendmail records.
    [InlineData("@spammer.example", "<x@spammer.example>y@innocent.example", true)]
    [InlineData("@spammer.example", "<y@innocent.example<x@spammer.example>>", true)]
    [InlineData("*@spammer.example", "<x@spammer.example(y@innocent.example)>", true)]
    [InlineData("promo@shop.example", "<promo(x)@shop.example>", true)]
    [InlineData("promo@shop.example", "<@hop.example:promo@shop.example>", true)]
    [InlineData("promo@shop.example", "<orders@shop.example>promo@shop.example", false)]
    public async Task Sender_rules_match_exact_glob_domain_and_regex(string pattern, string sender, bool banned)
    {
        var result = await Message(sender: sender).RunAsync(Chain(Rule(BanKind.Sender, pattern)));
        Assert.Equal(banned ? "550 5.7.1 Access denied" : "continue", result.Heard("MAIL FROM"));
    }

    [Fact]
    public async Task A_recipient_rule_refuses_that_recipient_only()
    {
        var result = await Transaction.From("192.0.2.10").MailFrom("a@sender.example")
            .RcptTo("former-employee@example.com").RcptTo("bob@example.com").EndOfMessage()
            .RunAsync(Chain(Rule(BanKind.Recipient, "former-employee@example.com", reply: "550 5.1.1 <former-employee@example.com>... no longer here")));

        Assert.Equal("550 5.1.1 <former-employee@example.com>... no longer here", result.Rcpt("former-employee@example.com"));
        Assert.Equal("continue", result.Rcpt("bob@example.com"));
        Assert.Equal("continue", result.EndOfMessage);
        Assert.Equal("former-employee@example.com", result.SingleDecision.Recipient);
    }

    [Theory]
    [InlineData("(?i)cheap meds", "CHEAP MEDS today", true)]
    [InlineData("cheap meds", "CHEAP MEDS today", false)]
    [InlineData("/cheap meds/i", "CHEAP MEDS today", true)]
    [InlineData("(?i)cheap meds", "=?UTF-8?B?Q2hlYXAgbWVkcyB0b2RheQ==?=", true)]     // decoded first
    [InlineData("(?i)cheap meds", "=?utf-8?Q?cheap?= =?utf-8?Q?_meds?=", true)]
    [InlineData("^Grüße$", "=?iso-8859-1?Q?Gr=FC=DFe?=", true)]
    [InlineData("(?i)cheap meds", "Quarterly report", false)]
    public async Task Subject_rules_search_the_decoded_subject(string pattern, string subject, bool banned)
    {
        var result = await Message(subject: subject).RunAsync(Chain(Rule(BanKind.Subject, pattern, id: "ban#7 (milterhost.yaml:40)")));
        Assert.Equal(banned ? "550 5.7.1 Access denied" : "continue", result.Heard("(end of headers)"));
        Assert.Equal("continue", result.Heard("Subject"));
        if (banned)
            Assert.Equal(("eoh", "ban#7 (milterhost.yaml:40)"), (result.SingleDecision.Stage, result.SingleDecision.Rule));
    }

    [Theory]
    [InlineData("former+x@example.com")]         // a +detail reaches the same mailbox
    [InlineData("\"former\"@example.com")]       // so does the quoted local part
    [InlineData("\"for\\mer\"@example.com")]     // and an escaped character inside the quotes
    [InlineData("former")]                       // unqualified: the local user
    [InlineData("former+x")]
    [InlineData("FORMER@Example.Com.")]
    [InlineData("former(x)@example.com")]        // a comment: sendmail delivers to former@example.com
    public async Task A_recipient_rule_holds_for_every_spelling_of_the_banned_mailbox(string recipient)
    {
        var options = new MilterOptions { Ban = [Rule(BanKind.Recipient, "former@example.com", id: "ban#1")], Recipients = new RecipientsOptions { RejectUnknown = false } };
        var chain = new FilterChainFactory(_time, Microsoft.Extensions.Logging.Abstractions.NullLoggerFactory.Instance)
            .Create(options, new FilterChainInputs { LocalDomains = new Milter.Filters.Relay.LocalDomains(["example.com"]) });

        var result = await Transaction.From("192.0.2.10").MailFrom("a@sender.example").RcptTo(recipient).RcptTo("formerly@example.com").RunAsync(chain);

        Assert.Equal("550 5.7.1 Access denied", result.Rcpt(recipient));
        Assert.Equal("continue", result.Rcpt("formerly@example.com"));
        Assert.Equal(("ban", "ban#1", recipient), (result.SingleDecision.Filter, result.SingleDecision.Rule, result.SingleDecision.Recipient));
    }

    [Theory]
    [InlineData("spammer+x@example.com")]        // a +detail is the same sender
    [InlineData("\"spammer\"@example.com")]      // so is the quoted local part
    [InlineData("spammer")]                      // unqualified: the local user
    [InlineData("SPAMMER+promo@Example.Com.")]
    [InlineData("<spammer@example.com>x@innocent.example")]  // sendmail's sender is the one inside the brackets
    [InlineData("<spammer(x)@example.com>")]                 // a comment is no part of the address
    [InlineData("<@hop.example:spammer@example.com>")]       // nor is a source route
    public async Task A_sender_rule_holds_for_every_spelling_of_the_banned_address(string sender)
    {
        var options = new MilterOptions { Ban = [Rule(BanKind.Sender, "spammer@example.com", id: "ban#1")], Recipients = new RecipientsOptions { RejectUnknown = false } };
        var chain = new FilterChainFactory(_time, Microsoft.Extensions.Logging.Abstractions.NullLoggerFactory.Instance)
            .Create(options, new FilterChainInputs { LocalDomains = new Milter.Filters.Relay.LocalDomains(["example.com"]) });

        var banned = await Transaction.From("192.0.2.10").MailFrom(sender).RcptTo("bob@example.com").RunAsync(chain);
        var other = await Transaction.From("192.0.2.10").MailFrom("spammers@example.com").RcptTo("bob@example.com").RunAsync(chain);

        Assert.Equal("550 5.7.1 Access denied", banned.Heard("MAIL FROM"));
        Assert.Equal(("ban", "ban#1"), (banned.SingleDecision.Filter, banned.SingleDecision.Rule));
        Assert.Equal("continue", other.Heard("MAIL FROM"));
    }

    [Fact]
    public async Task An_unqualified_recipient_is_not_matched_against_a_foreign_domain()
    {
        var options = new MilterOptions { Ban = [Rule(BanKind.Recipient, "former@elsewhere.example")], Recipients = new RecipientsOptions { RejectUnknown = false } };
        var chain = new FilterChainFactory(_time, Microsoft.Extensions.Logging.Abstractions.NullLoggerFactory.Instance)
            .Create(options, new FilterChainInputs { LocalDomains = new Milter.Filters.Relay.LocalDomains(["example.com"]) });

        var result = await Transaction.From("192.0.2.10").MailFrom("a@sender.example").RcptTo("former").RunAsync(chain);

        Assert.Equal("continue", result.Rcpt("former"));
    }

    [Theory]
    [InlineData(OnError.Tempfail, "451 4.3.0 Temporary local problem, please try again later", "tempfail")]
    [InlineData(OnError.Accept, "continue", "continue")]
    public async Task A_subject_regex_that_runs_out_of_time_is_answered_per_on_error_and_logged_with_its_rule(OnError onError, string expected, string logged)
    {
        // A lookahead keeps the pattern on the backtracking engine, and nested quantifiers that
        // fail at the end make it exponential: it cannot finish within the match timeout.
        var log = new FakeLogger<FilterChain>();
        var chain = new FilterChain([new BanFilter([Rule(BanKind.Subject, "^(a+)+(?!a)b$", id: "ban#3 (milterhost.yaml:12)")], null, _time)], onError, log);

        var result = await Message(subject: new string('a', 64) + "!").RunAsync(chain);

        Assert.Equal(expected, result.Heard("(end of headers)"));
        var line = Assert.Single(log.Collector.GetSnapshot(), r => r.Level >= Microsoft.Extensions.Logging.LogLevel.Warning);
        Assert.EndsWith("answering per on_error: " + logged, line.Message, StringComparison.Ordinal);
        Assert.Equal("ban rule ban#3 (milterhost.yaml:12) (subject: ^(a+)+(?!a)b$) ran out of time (250 ms) on 65 characters", line.Exception?.Message);
    }

    [Fact]
    public async Task A_megabyte_of_hostile_subject_is_judged_correctly()
    {
        // Catastrophic for a backtracking engine: nested quantifiers failing at the very end.
        var hostile = new string('a', 1 << 20) + "!";
        var chain = Chain(Rule(BanKind.Subject, "^(a+)+$"), Rule(BanKind.Subject, "(a|aa)+b"), Rule(BanKind.Subject, "a!$", id: "tail"));
        var result = await Message(subject: hostile).RunAsync(chain);
        Assert.Equal("tail", result.SingleDecision.Rule);
    }

    [Fact]
    public async Task A_regex_the_linear_engine_cannot_run_still_works_with_a_timeout()
    {
        var result = await Message(subject: "buy buy now").RunAsync(Chain(Rule(BanKind.Subject, @"\b(\w+) \1\b")));
        Assert.Equal("550 5.7.1 Access denied", result.Heard("(end of headers)"));
    }

    public static TheoryData<BanAction, string?, string> Actions => new()
    {
        { BanAction.Reject, null, "550 5.7.1 Access denied" },
        { BanAction.Reject, "554 5.7.1 Go away", "554 5.7.1 Go away" },
        { BanAction.Tempfail, null, "451 4.7.1 Try again later" },
        { BanAction.Tempfail, "421 4.7.0 Slow down", "421 4.7.0 Slow down" },
        { BanAction.Discard, null, "discard" },
    };

    [Theory]
    [MemberData(nameof(Actions))]
    public async Task Each_action_answers_with_its_reply(BanAction action, string? reply, string heard)
    {
        var result = await Message().RunAsync(Chain(Rule(BanKind.Sender, "alice@sender.example", action, reply)));
        Assert.Equal(heard, result.Heard("MAIL FROM"));
    }

    [Fact]
    public async Task A_discard_rule_for_a_client_discards_each_of_its_messages()
    {
        var result = await Transaction.From("192.0.2.10").Helo("h")
            .MailFrom("a@sender.example").RcptTo("bob@example.com").EndOfMessage()
            .MailFrom("b@sender.example").RcptTo("carol@example.com").EndOfMessage()
            .RunAsync(Chain(Rule(BanKind.Client, "192.0.2.0/24", BanAction.Discard, id: "quiet")));

        Assert.Equal("continue", result.Connect);
        Assert.Equal(["discard", "discard"], result.Steps.Where(s => s.Command.StartsWith("MAIL", StringComparison.Ordinal)).Select(s => s.Heard));
        Assert.All(result.Decisions, d => Assert.Equal(("mail", "quiet"), (d.Stage, d.Rule)));
    }

    [Fact]
    public async Task A_discard_rule_for_a_recipient_drops_that_recipient_alone_and_the_message_only_when_none_is_left()
    {
        // Discard answered at RCPT would drop the message for every recipient (sendmail's EF_DISCARD):
        // the MTA hears continue, and the recipient is deleted from the envelope at end of message.
        var chain = Chain(Rule(BanKind.Recipient, "former@example.com", BanAction.Discard, id: "gone"));
        var shared = await Transaction.From("192.0.2.10").Helo("h").MailFrom("a@sender.example")
            .RcptTo("former@example.com").RcptTo("colleague@example.com").EndOfMessage().RunAsync(chain);
        var alone = await Transaction.From("192.0.2.10").Helo("h").MailFrom("a@sender.example")
            .RcptTo("former+x@example.com").EndOfMessage().RunAsync(chain);

        Assert.Equal(("continue", "continue", "continue"), (shared.Rcpt("former@example.com"), shared.Rcpt("colleague@example.com"), shared.EndOfMessage));
        Assert.Equal(["delete recipient former@example.com"], shared.HeaderChanges);
        var decision = shared.SingleDecision;
        Assert.Equal((VerdictKind.Discard, "rcpt", "gone"), (decision.Verdict.Kind, decision.Stage, decision.Rule));
        Assert.Equal(("continue", "discard"), (alone.Rcpt("former+x@example.com"), alone.EndOfMessage));
        Assert.Empty(alone.HeaderChanges);
        var needs = Assert.Single(chain.Filters).Needs;
        Assert.Equal((true, ActionFlags.DeleteRecipient), (needs.Stages.HasFlag(MilterStages.EndOfMessage), needs.Actions));
    }

    [Fact]
    public async Task The_first_matching_rule_of_a_kind_decides()
    {
        var result = await Message().RunAsync(Chain(
            Rule(BanKind.Sender, "*@other.example", id: "a"),
            Rule(BanKind.Sender, "*@sender.example", BanAction.Tempfail, id: "b"),
            Rule(BanKind.Sender, "alice@sender.example", id: "c")));
        Assert.Equal(("451 4.7.1 Try again later", "b"), (result.Heard("MAIL FROM"), result.SingleDecision.Rule));
    }

    [Fact]
    public async Task Client_rules_come_before_client_name_rules()
    {
        var result = await Message().RunAsync(Chain(
            Rule(BanKind.ClientName, "*.sender.example", id: "by-name"),
            Rule(BanKind.Client, "192.0.2.10", BanAction.Tempfail, id: "by-address")));
        Assert.Equal("by-address", result.SingleDecision.Rule);
    }

    [Fact]
    public async Task A_client_on_the_dynamic_ban_list_is_refused_at_connect()
    {
        var now = _time.GetUtcNow();
        await _store.AddAsync(new DynamicBan(IPNetwork.Parse("203.0.113.0/24"), "logscan: 12 rejections", BanSource.Logscan, now, now.AddDays(7)), default);
        await _store.AddAsync(new DynamicBan(IPNetwork.Parse("2001:db8:bad::/48"), "admin", BanSource.Admin, now, now.AddHours(1)), default);

        var v4 = await Message(client: "203.0.113.77").RunAsync(Chain());
        var v6 = await Message(client: "2001:db8:bad:1::1").RunAsync(Chain());
        var other = await Message(client: "203.0.114.1").RunAsync(Chain());

        Assert.Equal("550 5.7.1 Access denied", v4.Connect);
        Assert.Equal(("connect", "ban", "dynamic-ban"), (v4.SingleDecision.Stage, v4.SingleDecision.Filter, v4.SingleDecision.Rule));
        Assert.Equal("550 5.7.1 Access denied", v6.Connect);
        Assert.Equal("continue", other.Connect);
    }

    [Fact]
    public async Task An_expired_dynamic_ban_no_longer_refuses()
    {
        var now = _time.GetUtcNow();
        await _store.AddAsync(new DynamicBan(IPNetwork.Parse("203.0.113.0/24"), "bypass", BanSource.Bypass, now, now.AddHours(1)), default);
        _time.Advance(TimeSpan.FromHours(1) + TimeSpan.FromSeconds(1));

        var result = await Message(client: "203.0.113.77").RunAsync(Chain());
        Assert.Equal("continue", result.Connect);
    }

    [Fact]
    public async Task A_failing_ban_store_is_answered_per_on_error()
    {
        _store.FailLookups = true;
        var result = await Message(client: "203.0.113.77").RunAsync(Chain());
        Assert.Equal("451 4.3.0 Temporary local problem, please try again later", result.Connect);
        Assert.Equal(("ban", "on_error"), (result.SingleDecision.Filter, result.SingleDecision.Rule));
    }

    [Fact]
    public void The_filter_asks_only_for_the_stages_its_rules_use()
    {
        var none = new BanFilter([], null, _time).Needs;
        var sender = new BanFilter([Rule(BanKind.Sender, "*@x.example")], null, _time).Needs;
        var subject = new BanFilter([Rule(BanKind.Subject, "x")], null, _time).Needs;
        var dynamic = new BanFilter([], _store, _time).Needs;

        Assert.Equal(MilterStages.None, none.Stages);
        Assert.Equal(MilterStages.Mail, sender.Stages);
        Assert.Equal(MilterStages.Header | MilterStages.EndOfHeaders, subject.Stages);
        Assert.Equal(MilterStages.EndOfHeaders, subject.Replies);
        Assert.Equal(["Subject"], subject.HeaderNames);
        Assert.Equal(MilterStages.Connect, dynamic.Stages);
    }

    [Theory]
    [InlineData(BanKind.Client, "203.0.113.300", BanAction.Reject, null, "not an IP address or CIDR network")]
    [InlineData(BanKind.Client, "example.com", BanAction.Reject, null, "not an IP address or CIDR network")]
    [InlineData(BanKind.Subject, "(unclosed", BanAction.Reject, null, "not a valid regular expression")]
    [InlineData(BanKind.Sender, "/x/z", BanAction.Reject, null, "unknown regex flag 'z'")]
    [InlineData(BanKind.Helo, " ", BanAction.Reject, null, "empty pattern")]
    [InlineData(BanKind.Sender, "x@y.example", BanAction.Reject, "go away", "not an SMTP reply")]
    [InlineData(BanKind.Sender, "x@y.example", BanAction.Reject, "451 4.7.1 later", "action reject needs a 5xx reply")]
    [InlineData(BanKind.Sender, "x@y.example", BanAction.Tempfail, "550 5.7.1 no", "action tempfail needs a 4xx reply")]
    [InlineData(BanKind.Sender, "x@y.example", BanAction.Discard, "550 5.7.1 no", "action discard sends no reply")]
    public void A_bad_rule_is_refused_with_its_id_and_the_reason(BanKind kind, string pattern, BanAction action, string? reply, string reason)
    {
        var ex = Assert.Throws<FormatException>(() => new BanFilter(
            [Rule(BanKind.Helo, "fine"), Rule(kind, pattern, action, reply)], null, _time));
        Assert.StartsWith("ban rule ban#2 (", ex.Message, StringComparison.Ordinal);
        Assert.Contains(reason, ex.Message, StringComparison.Ordinal);
    }
}
