using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Testing;
using Milter.Filters.Configuration;
using Milter.Filters.Context;
using Milter.Filters.Tests.Support;
using Milter.Protocol.Negotiation;
using Milter.Protocol.Replies;

namespace Milter.Filters.Tests;

public sealed class FilterChainTests
{
    private const MilterStages Envelope = MilterStages.Connect | MilterStages.Helo | MilterStages.Mail | MilterStages.Rcpt;
    private static readonly SmtpReply Go = SmtpReply.Parse("550 5.7.1 Go away");
    private readonly FakeLogger<FilterChain> _log = new();

    private FilterChain Chain(OnError onError, params IMilterFilter[] filters) => new(filters, onError, _log);

    [Fact]
    public async Task First_final_verdict_wins_and_later_filters_are_not_asked()
    {
        var first = new ScriptedFilter("first", Envelope).Answer("mail", Verdict.Reject(Go, "rule-a"));
        var second = new ScriptedFilter("second", Envelope).Answer("mail", Verdict.Tempfail(null, "rule-b"));

        var result = await Transaction.From("192.0.2.1").Helo("h").MailFrom("a@remote.example").RcptTo("b@example.com")
            .RunAsync(Chain(OnError.Tempfail, first, second));

        Assert.Equal("550 5.7.1 Go away", result.Heard("MAIL FROM"));
        Assert.Equal(new Decision("mail", Verdict.Reject(Go, "rule-a"), "first", "rule-a"), result.SingleDecision);
        Assert.Equal(["connect", "helo", "abort", "close"], second.Calls);
        Assert.Equal("(not sent)", result.Rcpt("b@example.com"));
    }

    private FilterChain Monitored(OnError onError, IReadOnlyList<string> monitored, params IMilterFilter[] filters) =>
        new(filters, onError, _log, modes: monitored.ToDictionary(n => n, _ => FilterMode.Monitor));

    [Fact]
    public async Task A_monitored_reject_is_reported_not_applied_and_later_filters_decide()
    {
        var first = new ScriptedFilter("first", Envelope | MilterStages.EndOfMessage).Answer("mail", Verdict.Reject(Go, "rule-a"));
        var later = Verdict.Tempfail(SmtpReply.Parse("451 4.7.1 Later"), "rule-b");
        var second = new ScriptedFilter("second", Envelope | MilterStages.EndOfMessage).AnswerRcpt("c@example.com", later);

        var result = await Transaction.From("192.0.2.1").Helo("h").MailFrom("a@remote.example").RcptTo("b@example.com").RcptTo("c@example.com")
            .EndOfMessage()
            .RunAsync(Monitored(OnError.Tempfail, ["first"], first, second));

        // The MTA heard continue at MAIL; the session went on to the end of the message.
        Assert.Equal("continue", result.Heard("MAIL FROM"));
        Assert.Equal("continue", result.Rcpt("b@example.com"));
        Assert.Equal("451 4.7.1 Later", result.Rcpt("c@example.com"));
        Assert.Equal("continue", result.EndOfMessage);
        Assert.Equal(["connect", "helo", "mail", "rcpt:b@example.com", "rcpt:c@example.com", "eom", "close"], second.Calls);
        Assert.Equal(
            [
                new Decision("mail", Verdict.Reject(Go, "rule-a"), "first", "rule-a") { Applied = false },
                new Decision("rcpt", later, "second", "rule-b", "c@example.com"),
            ],
            result.Decisions);
        Assert.Equal(["b@example.com"], result.Session.AcceptedRecipients);
    }

    [Fact]
    public async Task A_monitored_refusal_at_connect_lets_the_session_run_and_every_later_refusal_is_reported()
    {
        var watched = new ScriptedFilter("watched", Envelope)
            .Answer("connect", Verdict.Reject(Go, "by-address"))
            .AnswerRcpt("b@example.com", new Verdict(VerdictKind.Discard, null, "drop"));
        var enforced = new ScriptedFilter("enforced", Envelope);

        var result = await Transaction.From("192.0.2.1").Helo("h").MailFrom("a@remote.example").RcptTo("b@example.com")
            .RunAsync(Monitored(OnError.Tempfail, ["watched"], watched, enforced));

        Assert.Equal("continue", result.Connect);
        Assert.Equal("continue", result.Rcpt("b@example.com"));
        Assert.Equal(["connect", "helo", "mail", "rcpt:b@example.com", "close"], enforced.Calls);
        Assert.Equal([("connect", "by-address", false), ("rcpt", "drop", false)], result.Decisions.Select(d => (d.Stage, d.Rule!, d.Applied)));
    }

    [Fact]
    public async Task A_monitored_filter_that_fails_is_reported_per_on_error_but_not_applied()
    {
        var broken = new ScriptedFilter("broken", Envelope).ThrowAt("rcpt");
        var after = new ScriptedFilter("after", Envelope);

        var result = await Transaction.From("192.0.2.1").MailFrom("a@remote.example").RcptTo("b@example.com")
            .RunAsync(Monitored(OnError.Tempfail, ["broken"], broken, after));

        Assert.Equal("continue", result.Rcpt("b@example.com"));
        Assert.Contains("rcpt:b@example.com", after.Calls);
        var decision = result.SingleDecision;
        Assert.Equal(("on_error", VerdictKind.Tempfail, false), (decision.Rule, decision.Verdict.Kind, decision.Applied));
    }

    [Fact]
    public void The_chain_runs_each_filter_in_the_mode_it_was_given()
    {
        var a = new ScriptedFilter("a", Envelope);
        var b = new ScriptedFilter("b", Envelope);
        var chain = Monitored(OnError.Tempfail, ["b"], a, b);

        Assert.Equal((FilterMode.Enforce, FilterMode.Monitor), (chain.ModeOf(a), chain.ModeOf(b)));
    }

    [Fact]
    public async Task Filters_run_in_the_configured_order_at_each_stage()
    {
        var calls = new List<string>();
        var a = new ScriptedFilter("a", Envelope);
        var b = new ScriptedFilter("b", Envelope);
        await Transaction.From("192.0.2.1").Helo("h").MailFrom("a@remote.example").RcptTo("x@example.com")
            .RunAsync(Chain(OnError.Tempfail, b, a));

        Assert.Equal(["connect", "helo", "mail", "rcpt:x@example.com", "close"], b.Calls);
        Assert.Equal(b.Calls, a.Calls);
    }

    [Fact]
    public async Task Continue_and_skip_are_not_final()
    {
        var skipper = new ScriptedFilter("skipper", Envelope).Answer("mail", Verdict.SkipBody);
        var decider = new ScriptedFilter("decider", Envelope).Answer("mail", Verdict.Reject(Go, "r"));

        var result = await Transaction.From("192.0.2.1").MailFrom("a@remote.example").RcptTo("b@example.com")
            .RunAsync(Chain(OnError.Tempfail, skipper, decider));

        Assert.Equal("decider", result.SingleDecision.Filter);
    }

    [Fact]
    public async Task A_recipient_verdict_refuses_that_recipient_and_the_message_goes_on()
    {
        var filter = new ScriptedFilter("f", Envelope | MilterStages.EndOfMessage)
            .AnswerRcpt("nobody@example.com", Verdict.Reject(SmtpReply.Parse("550 5.1.1 User unknown"), "recipients"));

        var result = await Transaction.From("192.0.2.1").MailFrom("a@remote.example")
            .RcptTo("bob@example.com").RcptTo("nobody@example.com").RcptTo("carol@example.com")
            .EndOfMessage()
            .RunAsync(Chain(OnError.Tempfail, filter));

        Assert.Equal("continue", result.Rcpt("bob@example.com"));
        Assert.Equal("550 5.1.1 User unknown", result.Rcpt("nobody@example.com"));
        Assert.Equal("continue", result.Rcpt("carol@example.com"));
        Assert.Equal("continue", result.EndOfMessage);
        Assert.Equal(["<bob@example.com>", "<carol@example.com>"], result.Session.AcceptedRecipients.Select(r => $"<{r}>"));
        var decision = result.SingleDecision;
        Assert.Equal(("rcpt", "nobody@example.com", "recipients"), (decision.Stage, decision.Recipient, decision.Rule));
    }

    [Fact]
    public async Task A_throwing_filter_is_answered_with_a_temporary_failure_when_on_error_is_tempfail()
    {
        var broken = new ScriptedFilter("broken", Envelope).ThrowAt("rcpt");
        var after = new ScriptedFilter("after", Envelope);

        var result = await Transaction.From("192.0.2.1", "mx.remote.example").MailFrom("a@remote.example").RcptTo("b@example.com")
            .RunAsync(Chain(OnError.Tempfail, broken, after));

        Assert.Equal("451 4.3.0 Temporary local problem, please try again later", result.Rcpt("b@example.com"));
        Assert.Equal(new Decision("rcpt", Verdict.Tempfail(FailureReply.Reply, "on_error"), "broken", "on_error", "b@example.com"), result.SingleDecision);
        Assert.DoesNotContain("rcpt:b@example.com", after.Calls);
        var entry = Assert.Single(_log.Collector.GetSnapshot(), e => e.Level == LogLevel.Error);
        Assert.Contains("broken", entry.Message, StringComparison.Ordinal);
        Assert.Contains("mx.remote.example [192.0.2.1]", entry.Message, StringComparison.Ordinal);
        Assert.Contains("Q0001", entry.Message, StringComparison.Ordinal);
        Assert.IsType<InvalidOperationException>(entry.Exception);
    }

    [Fact]
    public async Task A_failing_filter_is_logged_once_per_burst_not_per_recipient_and_its_recovery_once()
    {
        var time = new Microsoft.Extensions.Time.Testing.FakeTimeProvider();
        var flaky = new FlakyFilter { Broken = true };
        var chain = new FilterChain([flaky], OnError.Tempfail, _log, time);
        var transaction = Transaction.From("192.0.2.1").MailFrom("a@remote.example")
            .RcptTo("r1@example.com").RcptTo("r2@example.com").RcptTo("r3@example.com").RcptTo("r4@example.com");

        var first = await transaction.RunAsync(chain);
        Assert.Equal("451 4.3.0 Temporary local problem, please try again later", first.Rcpt("r4@example.com"));
        Assert.Single(_log.Collector.GetSnapshot(), e => e.Level == LogLevel.Error);

        time.Advance(TimeSpan.FromMinutes(2));
        await transaction.RunAsync(chain);
        var errors = _log.Collector.GetSnapshot().Where(e => e.Level == LogLevel.Error).Select(e => e.Message).ToList();
        Assert.Equal(3, errors.Count);
        Assert.Contains("still failing: 3 more failure(s)", errors[1], StringComparison.Ordinal);

        flaky.Broken = false;
        time.Advance(TimeSpan.FromSeconds(30));
        var healed = await transaction.RunAsync(chain);
        Assert.Equal("continue", healed.Rcpt("r1@example.com"));
        var recovered = Assert.Single(_log.Collector.GetSnapshot(), e => e.Level == LogLevel.Information);
        Assert.Equal("Filter flaky works again after 8 failure(s) over 150 s", recovered.Message);
    }

    private sealed class FlakyFilter : IMilterFilter
    {
        public bool Broken { get; set; }

        public string Name => "flaky";

        public FilterNeeds Needs { get; } = new(MilterStages.Rcpt, new Dictionary<MacroStage, IReadOnlyList<string>>());

        public ValueTask<Verdict> OnRcptAsync(SessionContext session, RecipientContext recipient, CancellationToken cancellationToken) =>
            Broken ? throw new InvalidOperationException("store unreachable") : default;
    }

    [Fact]
    public async Task A_throwing_filter_is_passed_over_when_on_error_is_accept()
    {
        var broken = new ScriptedFilter("broken", Envelope).ThrowAt("connect").ThrowAt("rcpt");
        var after = new ScriptedFilter("after", Envelope).Answer("rcpt", Verdict.Reject(Go, "later-rule"));

        var result = await Transaction.From("192.0.2.1").MailFrom("a@remote.example").RcptTo("b@example.com")
            .RunAsync(Chain(OnError.Accept, broken, after));

        Assert.Equal("continue", result.Connect);
        Assert.Equal("550 5.7.1 Go away", result.Rcpt("b@example.com"));
        Assert.Equal("after", result.SingleDecision.Filter);
        Assert.Equal(2, _log.Collector.GetSnapshot().Count(e => e.Level == LogLevel.Error));
    }

    [Fact]
    public async Task A_filter_failing_at_a_stage_it_only_observes_is_logged_and_not_answered()
    {
        var observer = new ScriptedFilter("observer", MilterStages.Header | MilterStages.EndOfHeaders)
        {
            Needs = new FilterNeeds(MilterStages.Header | MilterStages.EndOfHeaders, new Dictionary<MacroStage, IReadOnlyList<string>>())
            {
                Replies = MilterStages.EndOfHeaders,
            },
        }.ThrowAt("header");

        var result = await Transaction.From("192.0.2.1").MailFrom("a@remote.example").RcptTo("b@example.com")
            .Subject("hello").EndOfMessage()
            .RunAsync(Chain(OnError.Tempfail, observer));

        Assert.Equal("continue", result.Heard("Subject"));
        Assert.Empty(result.Decisions);
        Assert.Single(_log.Collector.GetSnapshot(), e => e.Level == LogLevel.Error);
    }

    [Fact]
    public async Task A_filter_is_called_only_at_the_stages_it_needs_but_always_hears_abort_and_close()
    {
        var rcptOnly = new ScriptedFilter("rcpt-only", MilterStages.Rcpt);
        await Transaction.From("192.0.2.1").Helo("h").MailFrom("a@remote.example").RcptTo("b@example.com").Rset()
            .RunAsync(Chain(OnError.Tempfail, rcptOnly));

        Assert.Equal(["rcpt:b@example.com", "abort", "close"], rcptOnly.Calls);
    }

    [Fact]
    public async Task A_failure_while_aborting_is_logged_and_the_other_filters_still_hear_it()
    {
        var broken = new ScriptedFilter("broken", Envelope).ThrowAt("abort");
        var other = new ScriptedFilter("other", Envelope);
        await Transaction.From("192.0.2.1").MailFrom("a@remote.example").RcptTo("b@example.com").Rset()
            .RunAsync(Chain(OnError.Tempfail, broken, other));

        Assert.Contains("abort", other.Calls);
        Assert.Single(_log.Collector.GetSnapshot(), e => e.Level == LogLevel.Warning);
    }

    [Fact]
    public async Task Each_final_decision_is_reported_once()
    {
        var sink = new RecordingSink();
        var filter = new ScriptedFilter("f", Envelope)
            .AnswerRcpt("x@remote.example", Verdict.Reject(Go, "relay"))
            .AnswerRcpt("y@remote.example", Verdict.Tempfail(SmtpReply.Parse("451 4.7.1 Greylisted"), "greylist"));
        var chain = Chain(OnError.Tempfail, filter);

        await Transaction.From("192.0.2.1").MailFrom("a@remote.example")
            .RcptTo("x@remote.example").RcptTo("y@remote.example").RcptTo("z@example.com")
            .RunAsync(sink, s => new ChainHandler(chain, s));

        Assert.Equal(
            [
                "Q0001 client=[192.0.2.1] from=<a@remote.example> to=<x@remote.example> Reject 550 5.7.1 Go away filter=f rule=relay",
                "Q0001 client=[192.0.2.1] from=<a@remote.example> to=<y@remote.example> Tempfail 451 4.7.1 Greylisted filter=f rule=greylist",
            ],
            sink.Lines);
    }

    [Fact]
    public void Two_filters_with_one_name_are_refused()
    {
        var ex = Assert.Throws<ArgumentException>(() => Chain(OnError.Tempfail, new ScriptedFilter("x", Envelope), new ScriptedFilter("x", Envelope)));
        Assert.Contains("'x'", ex.Message, StringComparison.Ordinal);
    }
}
