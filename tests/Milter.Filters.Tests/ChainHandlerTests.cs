using System.Net;
using Microsoft.Extensions.Logging.Testing;
using Milter.Filters.Configuration;
using Milter.Filters.Context;
using Milter.Filters.Tests.Support;
using Milter.Protocol.Commands;
using Milter.Protocol.Negotiation;
using Milter.Protocol.Replies;
using Milter.Protocol.Session;

namespace Milter.Filters.Tests;

public sealed class ChainHandlerTests
{
    private const MilterStages Everything = MilterStages.Connect | MilterStages.Helo | MilterStages.Mail | MilterStages.Rcpt
        | MilterStages.Data | MilterStages.Header | MilterStages.EndOfHeaders | MilterStages.EndOfMessage;

    /// <summary>Copies the session as each stage saw it.</summary>
    private sealed class Snooper : IMilterFilter
    {
        public string Name => "snoop";
        public FilterNeeds Needs { get; } = new(Everything, new Dictionary<MacroStage, IReadOnlyList<string>>());
        public List<(string Stage, string? Name, IPAddress? Address, bool Local, string? Login, string? QueueId, string? Sender, string? Subject, string? Mailer)> Seen { get; } = [];

        private ValueTask<Verdict> Note(string stage, SessionContext s, string? mailer = null)
        {
            Seen.Add((stage, s.ClientName, s.ClientAddress, s.IsLocalSubmission, s.AuthenticatedUser, s.QueueId, s.Sender, s.Subject, mailer));
            return default;
        }

        public ValueTask<Verdict> OnConnectAsync(SessionContext s, CancellationToken ct) => Note("connect", s);
        public ValueTask<Verdict> OnMailAsync(SessionContext s, CancellationToken ct) => Note("mail", s);
        public ValueTask<Verdict> OnRcptAsync(SessionContext s, RecipientContext r, CancellationToken ct) => Note("rcpt", s, r.Mailer);
        public ValueTask<Verdict> OnEndOfHeadersAsync(SessionContext s, CancellationToken ct) => Note("eoh", s);
    }

    /// <summary>Accepts one recipient at RCPT (a custom filter's allow list), and notes every recipient it is asked about.</summary>
    private sealed class AcceptsOne(string address) : IMilterFilter
    {
        public string Name => "vip";
        public FilterNeeds Needs { get; } = new(MilterStages.Rcpt, new Dictionary<MacroStage, IReadOnlyList<string>>());
        public List<string> Asked { get; } = [];

        public ValueTask<Verdict> OnRcptAsync(SessionContext s, RecipientContext r, CancellationToken ct)
        {
            Asked.Add(r.Address);
            return ValueTask.FromResult(r.Address == address ? Verdict.Accept : Verdict.Continue);
        }
    }

    private static FilterChain Chain(params IMilterFilter[] filters) => new(filters, OnError.Tempfail, new FakeLogger<FilterChain>());

    public static TheoryData<string, string?, string?> ReportedNames => new()
    {
        { "203.0.113.9", "mx.remote.example", "mx.remote.example" },
        { "203.0.113.9", "mx.remote.example.", "mx.remote.example" },
        { "203.0.113.9", null, null },          // sendmail: [203.0.113.9]
        { "203.0.113.9", "unknown", null },     // Postfix
        { "2001:db8::25", null, null },
        { "2001:db8::25", "v6.remote.example", "v6.remote.example" },
    };

    [Theory]
    [MemberData(nameof(ReportedNames))]
    public async Task The_client_name_is_null_when_the_reverse_lookup_failed(string address, string? reported, string? expected)
    {
        var snoop = new Snooper();
        var result = await Transaction.From(address, reported).RunAsync(Chain(snoop));

        Assert.Equal(expected, snoop.Seen[0].Name);
        Assert.Equal(IPAddress.Parse(address), snoop.Seen[0].Address);
        Assert.False(snoop.Seen[0].Local);
        Assert.Equal(expected is null ? $"[{address}]" : $"{expected} [{address}]", result.Session.ClientDisplay);
    }

    [Fact]
    public async Task An_accept_at_RCPT_accepts_that_recipient_and_the_MTA_still_asks_about_the_next()
    {
        // Answered as accept, sendmail would stop asking about the whole message (SMFS_DONE).
        var vip = new AcceptsOne("boss@example.com");
        var result = await Transaction.From("192.0.2.10").Helo("h").MailFrom("a@sender.example")
            .RcptTo("boss@example.com").RcptTo("x@remote.example").EndOfMessage().RunAsync(Chain(vip));

        Assert.Equal(("continue", "continue"), (result.Rcpt("boss@example.com"), result.Rcpt("x@remote.example")));
        Assert.Equal(["boss@example.com", "x@remote.example"], vip.Asked);
        Assert.Equal(["boss@example.com", "x@remote.example"], result.Session.AcceptedRecipients);
        Assert.Equal((VerdictKind.Accept, "rcpt"), (result.SingleDecision.Verdict.Kind, result.SingleDecision.Stage));
    }

    [Fact]
    public async Task A_unix_socket_client_is_a_local_submission()
    {
        var snoop = new Snooper();
        await Transaction.Local().MailFrom("root@localhost").RcptTo("x@remote.example").RunAsync(Chain(snoop));
        Assert.True(snoop.Seen[0].Local);
        Assert.Null(snoop.Seen[0].Address);
    }

    [Fact]
    public async Task Sendmail_bs_without_an_address_is_a_local_submission()
    {
        var snoop = new Snooper();
        await Transaction.StandardInput().RunAsync(Chain(snoop));
        Assert.True(snoop.Seen[0].Local);
    }

    [Fact]
    public async Task An_IPv4_mapped_address_is_seen_as_IPv4()
    {
        var handler = new ChainHandler(Chain(new Snooper()), new RecordingSink());
        var context = new MilterConnectionContext(1, new MacroTable());
        await handler.OnConnectAsync(new ConnectCommand("[::ffff:192.0.2.7]", ConnectFamily.Inet6, 25, "::ffff:192.0.2.7"), context, default);
        Assert.Equal(IPAddress.Parse("192.0.2.7"), handler.Session.ClientAddress);
    }

    [Fact]
    public async Task Login_queue_id_sender_and_mailer_come_from_the_macros()
    {
        var snoop = new Snooper();
        await Transaction.From("192.0.2.1").Auth("alice").MailFrom("alice@example.com").RcptTo("bob@example.com", mailer: "local")
            .RunAsync(Chain(snoop));

        var mail = snoop.Seen.Single(s => s.Stage == "mail");
        Assert.Equal(("alice", "Q0001", "alice@example.com"), (mail.Login, mail.QueueId, mail.Sender));
        Assert.Equal("local", snoop.Seen.Single(s => s.Stage == "rcpt").Mailer);
    }

    [Fact]
    public async Task An_empty_auth_authen_is_no_login()
    {
        var handler = new ChainHandler(Chain(new Snooper()), new RecordingSink());
        var macros = new MacroTable();
        var context = new MilterConnectionContext(1, macros);
        await handler.OnConnectAsync(new ConnectCommand("[192.0.2.1]", ConnectFamily.Inet, 25, "192.0.2.1"), context, default);
        macros.SetStage('M', new Dictionary<string, string> { ["{auth_authen}"] = "", ["i"] = "Q1" });
        await handler.OnMailAsync(new MailCommand("<a@b.example>", []), context, default);
        Assert.Null(handler.Session.AuthenticatedUser);
        Assert.Equal("Q1", handler.Session.Macro("{i}"));
    }

    [Fact]
    public async Task Message_state_is_reset_at_each_MAIL_and_at_ABORT()
    {
        var snoop = new Snooper();
        var result = await Transaction.From("192.0.2.1")
            .MailFrom("first@remote.example").RcptTo("a@example.com").Subject("one").EndOfMessage()
            .MailFrom("second@remote.example").RcptTo("b@example.com").Rset()
            .RunAsync(Chain(snoop));

        var secondMail = snoop.Seen.Where(s => s.Stage == "mail").Last();
        Assert.Equal(("second@remote.example", "Q0002", (string?)null), (secondMail.Sender, secondMail.QueueId, secondMail.Subject));
        Assert.Null(result.Session.Sender);
        Assert.Empty(result.Session.AcceptedRecipients);
    }

    [Fact]
    public async Task The_null_sender_is_an_empty_sender()
    {
        var snoop = new Snooper();
        await Transaction.From("192.0.2.1").MailFrom("<>").RcptTo("a@example.com").RunAsync(Chain(snoop));
        Assert.Equal("", snoop.Seen.Single(s => s.Stage == "mail").Sender);
    }

    public static TheoryData<string, string> Subjects => new()
    {
        { "Plain subject", "Plain subject" },
        { "=?UTF-8?B?Q2hlYXAgbWVkcyDinJM=?=", "Cheap meds ✓" },
        { "=?iso-8859-1?Q?Gr=FC=DFe_aus_K=F6ln?=", "Grüße aus Köln" },
        { "Re: =?utf-8?q?caf=C3=A9?=\n =?utf-8?q?_cr=C3=A8me?=", "Re: café crème" },
    };

    [Theory]
    [MemberData(nameof(Subjects))]
    public async Task The_first_Subject_header_is_decoded_into_the_session(string raw, string decoded)
    {
        var snoop = new Snooper();
        await Transaction.From("192.0.2.1").MailFrom("a@remote.example").RcptTo("b@example.com")
            .Header("From", "a@remote.example").Subject(raw).Subject("second one").EndOfMessage()
            .RunAsync(Chain(snoop));
        Assert.Equal(decoded, snoop.Seen.Single(s => s.Stage == "eoh").Subject);
    }

    [Fact]
    public async Task A_second_SMTP_session_on_the_connection_starts_with_a_fresh_context()
    {
        var handler = new ChainHandler(Chain(new Snooper()), new RecordingSink());
        var macros = new MacroTable();
        var context = new MilterConnectionContext(1, macros);
        await handler.OnConnectAsync(new ConnectCommand("[192.0.2.1]", ConnectFamily.Inet, 25, "192.0.2.1"), context, default);
        await handler.OnHeloAsync(new HeloCommand("first.example"), context, default);
        await handler.OnCloseAsync(context, default);
        macros.ClearAll();
        await handler.OnConnectAsync(new ConnectCommand("[192.0.2.2]", ConnectFamily.Inet, 25, "192.0.2.2"), context, default);
        Assert.Null(handler.Session.Helo);
        Assert.Equal(IPAddress.Parse("192.0.2.2"), handler.Session.ClientAddress);
    }
}
