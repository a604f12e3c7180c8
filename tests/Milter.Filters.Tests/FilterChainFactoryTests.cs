using System.Net;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Time.Testing;
using Milter.Filters.Configuration;
using Milter.Filters.Recipients;
using Milter.Filters.Relay;
using Milter.Filters.Stores;
using Milter.Filters.Tests.Support;
using Milter.Protocol.Negotiation;
using Milter.Protocol.Replies;

namespace Milter.Filters.Tests;

public sealed class FilterChainFactoryTests : IDisposable
{
    private readonly TempDirectory _dir = new();
    private readonly FakeTimeProvider _time = new(new DateTimeOffset(2026, 3, 1, 12, 0, 0, TimeSpan.Zero));
    private readonly MemoryBanStore _bans = new();
    private readonly ScriptedFilter _greylist;
    private readonly FilterChain _chain;

    public FilterChainFactoryTests()
    {
        _dir.Write("aliases", "postmaster: root\nformer-employee: root\n");
        var options = new MilterOptions
        {
            LocalDomains = ["example.com"],
            Relay = new RelayOptions { AllowClients = [IPNetwork.Parse("127.0.0.0/8")] },
            Recipients = new RecipientsOptions { Sources = ["aliases:aliases"] },
            Ban =
            [
                new BanRule { Kind = BanKind.Client, Pattern = "203.0.113.0/24", Id = "ban#1" },
                new BanRule { Kind = BanKind.Helo, Pattern = "localhost", Id = "ban#2" },
                new BanRule { Kind = BanKind.Sender, Pattern = "*@spammer.example", Id = "ban#3" },
                new BanRule { Kind = BanKind.Recipient, Pattern = "former-employee@example.com", Id = "ban#4" },
                new BanRule { Kind = BanKind.Recipient, Pattern = "*@remote.example", Id = "ban#5" },
                new BanRule { Kind = BanKind.Recipient, Pattern = "ghost@example.com", Id = "ban#6" },
                new BanRule { Kind = BanKind.Subject, Pattern = "(?i)cheap meds", Id = "ban#7" },
            ],
        };
        _greylist = new ScriptedFilter("greylist", MilterStages.Rcpt | MilterStages.Data)
            .Answer("rcpt", Verdict.Tempfail(SmtpReply.Parse("451 4.7.1 Greylisted, please retry in 120 seconds"), "greylist"));
        var inputs = new FilterChainInputs
        {
            LocalDomains = LocalDomains.Load(options.LocalDomains, _dir.Path),
            DynamicBans = _bans,
            Recipients = RecipientDirectory.Load(options.Recipients, _dir.Path, _time, NullLogger.Instance),
            Greylist = [_greylist],
        };
        _chain = new FilterChainFactory(_time, NullLoggerFactory.Instance).Create(options, inputs);
    }

    public void Dispose() => _dir.Dispose();

    [Fact]
    public void The_order_is_relay_ban_recipients_then_the_greylist_slot()
    {
        Assert.Equal(["relay", "ban", "recipients", "greylist"], _chain.Filters.Select(f => f.Name));
    }

    public static TheoryData<string, string, string, string?> RecipientOrder => new()
    {
        // recipient,                      heard,                                                       filter,       rule
        { "x@remote.example",            "550 5.7.1 Relaying denied",          "relay",      "relay" },    // relay before ban.recipient
        { "former-employee@example.com", "550 5.7.1 Access denied",                                   "ban",        "ban#4" },    // ban.recipient before recipients
        { "ghost@example.com",           "550 5.7.1 Access denied",                                   "ban",        "ban#6" },
        { "nobody@example.com",          "550 5.1.1 User unknown",            "recipients", "recipients" }, // recipients before greylist
        { "postmaster@example.com",      "451 4.7.1 Greylisted, please retry in 120 seconds",         "greylist",   "greylist" },
    };

    [Theory]
    [MemberData(nameof(RecipientOrder))]
    public async Task At_RCPT_relay_then_recipient_bans_then_unknown_recipients_then_greylist(string recipient, string heard, string filter, string? rule)
    {
        var result = await Transaction.From("192.0.2.1").Helo("mx.sender.example").MailFrom("a@sender.example").RcptTo(recipient).RunAsync(_chain);
        Assert.Equal(heard, result.Rcpt(recipient));
        Assert.Equal((filter, rule), (result.SingleDecision.Filter, result.SingleDecision.Rule));
    }

    [Fact]
    public async Task A_dynamic_ban_is_checked_before_the_client_rules()
    {
        var now = _time.GetUtcNow();
        await _bans.AddAsync(new DynamicBan(IPNetwork.Parse("203.0.113.5/32"), "logscan", BanSource.Logscan, now, now.AddDays(1)), default);
        var banned = await Transaction.From("203.0.113.5").RunAsync(_chain);
        var ruled = await Transaction.From("203.0.113.6").RunAsync(_chain);
        Assert.Equal("dynamic-ban", banned.SingleDecision.Rule);
        Assert.Equal("ban#1", ruled.SingleDecision.Rule);
    }

    [Fact]
    public async Task Helo_sender_and_subject_bans_decide_at_their_stages()
    {
        var helo = await Transaction.From("192.0.2.1").Helo("localhost").MailFrom("a@sender.example").RunAsync(_chain);
        var sender = await Transaction.From("192.0.2.1").Helo("mx").MailFrom("x@spammer.example").RcptTo("postmaster@example.com").RunAsync(_chain);
        Assert.Equal(("helo", "ban#2"), (helo.SingleDecision.Stage, helo.SingleDecision.Rule));
        Assert.Equal(("mail", "ban#3"), (sender.SingleDecision.Stage, sender.SingleDecision.Rule));
    }

    [Fact]
    public async Task A_trusted_client_may_relay_and_meets_the_later_checks()
    {
        var result = await Transaction.From("127.0.0.1").MailFrom("a@example.com")
            .RcptTo("x@remote.example").RcptTo("y@other.example").RunAsync(_chain);
        // relay passes both; the recipient ban still applies to trusted clients, then the greylist slot
        Assert.Equal("550 5.7.1 Access denied", result.Rcpt("x@remote.example"));
        Assert.Equal("451 4.7.1 Greylisted, please retry in 120 seconds", result.Rcpt("y@other.example"));
        Assert.Equal(["ban", "greylist"], result.Decisions.Select(d => d.Filter));
    }

    [Fact]
    public void The_chain_asks_for_what_its_filters_use()
    {
        var r = _chain.Requirements;
        Assert.Equal(MilterStages.Connect | MilterStages.Helo | MilterStages.Mail | MilterStages.Rcpt | MilterStages.Data
            | MilterStages.Header | MilterStages.EndOfHeaders | MilterStages.EndOfMessage, r.Stages);
        Assert.Equal(MilterStages.Connect | MilterStages.Helo | MilterStages.Mail | MilterStages.Rcpt | MilterStages.Data
            | MilterStages.EndOfHeaders, r.Replies);
    }

    [Fact]
    public void Reject_unknown_without_a_directory_is_a_clear_error()
    {
        var factory = new FilterChainFactory(_time, NullLoggerFactory.Instance);
        var ex = Assert.Throws<ArgumentException>(() => factory.Create(new MilterOptions(), new FilterChainInputs { LocalDomains = LocalDomains.None }));
        Assert.Contains("reject_unknown", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Without_ban_rules_or_a_ban_list_there_is_no_ban_filter()
    {
        var factory = new FilterChainFactory(_time, NullLoggerFactory.Instance);
        var chain = factory.Create(new MilterOptions { Recipients = new RecipientsOptions { RejectUnknown = false } },
            new FilterChainInputs { LocalDomains = LocalDomains.None });
        Assert.Equal(["relay"], chain.Filters.Select(f => f.Name));
    }
}
