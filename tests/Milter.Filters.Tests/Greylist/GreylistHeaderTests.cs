using System.Net;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Time.Testing;
using Milter.Filters.Configuration;
using Milter.Filters.Context;
using Milter.Filters.Greylist;
using Milter.Filters.Relay;
using Milter.Filters.Stores;
using Milter.Filters.Tests.Support;
using Milter.Protocol.Negotiation;
using Milter.Protocol.Replies;
using Milter.Protocol.Session;

namespace Milter.Filters.Tests.Greylist;

/// <summary>
/// <c>greylist.add_header</c>: the <c>X-Greylist</c> header a message that waited gets at end of
/// message, the forged ones it arrived with removed; on a real SQLite store, time walked by hand.
/// </summary>
public sealed class GreylistHeaderTests : IAsyncLifetime
{
    private static readonly TraceStamp Stamp = new("milterhost-9.8.7", "fallback.example");

    private readonly TempDirectory _folder = new();
    private readonly FakeTimeProvider _clock = new(new DateTimeOffset(2026, 12, 5, 14, 0, 0, TimeSpan.Zero));
    private MilterStores _stores = null!;

    public async Task InitializeAsync()
    {
        _clock.SetLocalTimeZone(TimeZoneInfo.CreateCustomTimeZone("UTC+1", TimeSpan.FromHours(1), "UTC+1", "UTC+1"));
        _stores = await StoreFactory.OpenAsync("sqlite:" + Path.Combine(_folder.Path, "milterhost.db"), _clock, null, new StoreOptions());
    }

    public async Task DisposeAsync()
    {
        await _stores.DisposeAsync();
        _folder.Dispose();
    }

    private GreylistFilter Filter(GreylistOptions greylist) =>
        new(_stores.Greylist.Check, greylist, [IPNetwork.Parse("127.0.0.1/32")], null, _clock, NullLogger<GreylistFilter>.Instance, Stamp);

    private FilterChain Chain(GreylistOptions greylist) =>
        new FilterChainFactory(_clock, NullLoggerFactory.Instance).Create(
            new MilterOptions { LocalDomains = ["example.com"], Recipients = new RecipientsOptions { RejectUnknown = false }, Greylist = greylist },
            new FilterChainInputs { LocalDomains = new LocalDomains(["example.com"]), Greylist = [Filter(greylist)] });

    private static Task<TransactionResult> SendAsync(FilterChain chain, string sender, params (string Name, string Value)[] headers)
    {
        var transaction = Transaction.From("192.0.2.10").Helo("mx.sender.example").MailFrom(sender).RcptTo("bob@example.com");
        foreach (var (name, value) in headers)
            transaction.Header(name, value);
        return transaction.RunAsync(chain);
    }

    /// <summary>Deferred once, then retried after <paramref name="wait"/>: the retry's result.</summary>
    private async Task<TransactionResult> WaitAndRetryAsync(FilterChain chain, string sender, TimeSpan wait, params (string, string)[] headers)
    {
        Assert.Equal("451 4.7.1 Greylisted, please retry in 120 seconds", (await SendAsync(chain, sender)).Heard("DATA"));
        _clock.Advance(wait);
        return await SendAsync(chain, sender, headers);
    }

    [Fact]
    public async Task Message_that_waited_gets_one_header_with_the_real_delay_the_mta_host_and_the_local_date()
    {
        var chain = Chain(new GreylistOptions());

        var retry = await WaitAndRetryAsync(chain, "ann@sender.example", TimeSpan.FromSeconds(187));

        Assert.Equal("continue", retry.EndOfMessage);
        Assert.Equal(["add X-Greylist: delayed 187 seconds by milterhost-9.8.7 at mx.example.com; Sat, 05 Dec 2026 15:03:07 +0100"], retry.HeaderChanges);
    }

    [Fact]
    public async Task Forged_headers_the_message_arrived_with_are_removed_last_first_and_ours_added()
    {
        var chain = Chain(new GreylistOptions());

        var retry = await WaitAndRetryAsync(chain, "ben@sender.example", TimeSpan.FromMinutes(3),
            ("X-Greylist", "delayed 1 seconds by milterhost-9.8.7 at mx.example.com; forged"), ("Subject", "hi"), ("x-greylist", "passed"));

        Assert.Equal(
            ["remove 2 X-Greylist", "remove 1 X-Greylist", "add X-Greylist: delayed 180 seconds by milterhost-9.8.7 at mx.example.com; Sat, 05 Dec 2026 15:03:00 +0100"],
            retry.HeaderChanges);
    }

    [Fact]
    public async Task A_later_message_of_a_passed_triplet_did_not_wait_and_gets_none_but_loses_a_forged_one()
    {
        var chain = Chain(new GreylistOptions());
        await WaitAndRetryAsync(chain, "cat@sender.example", TimeSpan.FromMinutes(3));
        _clock.Advance(TimeSpan.FromHours(1));

        var later = await SendAsync(chain, "cat@sender.example", ("X-Greylist", "delayed 300 seconds by someone"));

        Assert.Equal(["remove 1 X-Greylist"], later.HeaderChanges);
    }

    [Fact]
    public async Task With_add_header_off_nothing_is_added_nor_removed_and_neither_headers_nor_changes_are_asked_for()
    {
        var greylist = new GreylistOptions { AddHeader = false };
        var chain = Chain(greylist);

        var retry = await WaitAndRetryAsync(chain, "dan@sender.example", TimeSpan.FromMinutes(3), ("X-Greylist", "forged"));

        Assert.Equal("continue", retry.EndOfMessage);
        Assert.Empty(retry.HeaderChanges);
        var needs = Filter(greylist).Needs;
        // End of message stays: it answers for DATA where the MTA sends none.
        Assert.Equal(MilterStages.EndOfMessage, needs.Stages & (MilterStages.Header | MilterStages.EndOfMessage));
        Assert.Equal(ActionFlags.None, needs.Actions);
    }

    [Fact]
    public void With_add_header_on_the_filter_reads_only_x_greylist_answers_no_header_and_asks_for_j_and_header_changes()
    {
        var needs = Filter(new GreylistOptions()).Needs;

        Assert.Equal(MilterStages.Header | MilterStages.EndOfMessage, needs.Stages & (MilterStages.Header | MilterStages.EndOfMessage));
        // End of message is answered in any case (the MTA waits for it), by the greylist where no DATA came.
        Assert.Equal(MilterStages.EndOfMessage, needs.Replies & (MilterStages.Header | MilterStages.EndOfMessage));
        Assert.Equal(["X-Greylist"], needs.HeaderNames);
        Assert.Equal(ActionFlags.AddHeaders | ActionFlags.ChangeHeaders, needs.Actions);
        Assert.Equal(["j"], needs.Macros[MacroStage.Connect]);
    }

    [Fact]
    public async Task Auto_whitelisted_message_gets_a_passed_line_only_when_add_header_whitelisted_is_on()
    {
        var greylist = new GreylistOptions { AutoWhitelist = new AutoWhitelistOptions { After = 1 } };
        var plain = Chain(greylist);
        var verbose = Chain(greylist with { AddHeaderWhitelisted = true });
        await WaitAndRetryAsync(plain, "eve@sender.example", TimeSpan.FromMinutes(3));

        // Another recipient: a new triplet, let through by the (client, sender domain) auto-whitelist.
        var quiet = await Transaction.From("192.0.2.10").MailFrom("eve@sender.example").RcptTo("carol@example.com").RunAsync(plain);
        var told = await Transaction.From("192.0.2.10").MailFrom("eve@sender.example").RcptTo("dora@example.com").RunAsync(verbose);

        Assert.Equal("continue", quiet.Heard("DATA"));
        Assert.Empty(quiet.HeaderChanges);
        Assert.Equal(["add X-Greylist: passed, auto-whitelisted by milterhost-9.8.7 at mx.example.com; Sat, 05 Dec 2026 15:03:00 +0100"], told.HeaderChanges);
    }

    [Fact]
    public async Task The_delay_of_a_message_is_the_longest_its_triplets_waited()
    {
        var chain = Chain(new GreylistOptions());
        await Transaction.From("192.0.2.10").MailFrom("fay@sender.example").RcptTo("bob@example.com").RunAsync(chain);
        _clock.Advance(TimeSpan.FromSeconds(100));
        await Transaction.From("192.0.2.10").MailFrom("fay@sender.example").RcptTo("bob@example.com").RcptTo("carol@example.com").RunAsync(chain);
        _clock.Advance(TimeSpan.FromSeconds(150));

        var retry = await Transaction.From("192.0.2.10").MailFrom("fay@sender.example").RcptTo("bob@example.com").RcptTo("carol@example.com").RunAsync(chain);

        Assert.Equal(["add X-Greylist: delayed 250 seconds by milterhost-9.8.7 at mx.example.com; Sat, 05 Dec 2026 15:04:10 +0100"], retry.HeaderChanges);
    }

    [Fact]
    public async Task Without_j_from_the_mta_the_header_names_the_fallback_host()
    {
        var filter = Filter(new GreylistOptions());
        var session = new SessionContext { ClientAddress = IPAddress.Parse("192.0.2.10"), Sender = "gus@sender.example", QueueId = "Q1" };
        await filter.OnRcptAsync(session, new RecipientContext("bob@example.com"), default);
        session.ResetMessage();
        _clock.Advance(TimeSpan.FromMinutes(2));
        session.Sender = "gus@sender.example";
        await filter.OnRcptAsync(session, new RecipientContext("bob@example.com"), default);
        var changes = new List<string>();

        await filter.OnEndOfMessageAsync(session, new RecordingModifier(changes), default);

        Assert.Equal(["X-Greylist: delayed 120 seconds by milterhost-9.8.7 at fallback.example; Sat, 05 Dec 2026 15:02:00 +0100"], changes);
    }

    [Theory]
    [InlineData("mx.example.com", "mx.example.com")]
    [InlineData("mx.example.com.", "mx.example.com")]
    [InlineData("mx.example.com\r\nX-Evil: 1", "fallback.example")]
    [InlineData("", "fallback.example")]
    public void The_host_is_j_when_it_is_a_plain_host_name(string j, string expected)
    {
        var session = new SessionContext { Macro = name => name == "j" ? j : null };

        Assert.Equal(expected, Stamp.HostOf(session));
    }

    [Theory]
    [InlineData(-5, "Sat, 05 Dec 2026 09:09:07 -0500")]
    [InlineData(0, "Sat, 05 Dec 2026 14:09:07 +0000")]
    [InlineData(5.5, "Sat, 05 Dec 2026 19:39:07 +0530")]
    public void Dates_are_written_as_rfc_5322_says(double offsetHours, string expected)
    {
        var at = new DateTimeOffset(2026, 12, 5, 14, 9, 7, TimeSpan.Zero).ToOffset(TimeSpan.FromHours(offsetHours));

        Assert.Equal(expected, TraceStamp.Date(at));
    }

    [Fact]
    public async Task A_pass_through_an_mta_that_did_not_grant_header_changes_is_delivered_without_the_header_not_tempfailed()
    {
        var chain = new FilterChain([Filter(new GreylistOptions())], OnError.Tempfail, NullLogger<FilterChain>.Instance, _clock);
        var session = new SessionContext { ClientAddress = IPAddress.Parse("192.0.2.10"), Sender = "ida@sender.example", QueueId = "Q1" };
        await chain.RcptAsync(session, new RecipientContext("bob@example.com"), null, default);
        session.ResetMessage();
        _clock.Advance(TimeSpan.FromMinutes(2));
        session.Sender = "ida@sender.example";
        Assert.Null(await chain.RcptAsync(session, new RecipientContext("bob@example.com"), null, default));
        var changes = new List<string>();

        var decision = await chain.EndOfMessageAsync(session, new RecordingModifier(changes, ActionFlags.AddRecipient), null, default);

        Assert.Null(decision);
        Assert.Empty(changes);
        // With the grant, the same pass is stamped (the check above is not vacuous).
        await chain.EndOfMessageAsync(session, new RecordingModifier(changes), null, default);
        Assert.Single(changes);
    }

    [Fact]
    public async Task A_filter_may_only_make_the_changes_it_declared_even_when_another_filter_got_them_granted()
    {
        var greylist = new GreylistOptions();
        var chain = new FilterChain([new UndeclaredHeaderFilter(), Filter(greylist)], OnError.Tempfail, NullLogger<FilterChain>.Instance, _clock);
        var changes = new List<string>();
        var session = new SessionContext { ClientAddress = IPAddress.Parse("192.0.2.10"), Sender = "hal@sender.example" };

        await chain.EndOfMessageAsync(session, new RecordingModifier(changes), null, default);

        Assert.Equal(ActionFlags.AddHeaders | ActionFlags.ChangeHeaders, chain.Requirements.Actions);
        Assert.Empty(changes);
    }

    /// <summary>Acts at end of message but declares no change, then tries one.</summary>
    private sealed class UndeclaredHeaderFilter : IMilterFilter
    {
        public string Name => "undeclared";

        public FilterNeeds Needs { get; } = new(MilterStages.EndOfMessage, new Dictionary<MacroStage, IReadOnlyList<string>>()) { Replies = MilterStages.None };

        public ValueTask<Verdict> OnEndOfMessageAsync(SessionContext session, IMessageModifier modifier, CancellationToken cancellationToken)
        {
            modifier.AddHeader("X-Undeclared", "1");
            return ValueTask.FromResult(Verdict.Continue);
        }
    }

    /// <summary>Records header additions as <c>NAME: VALUE</c>; the MTA granted everything.</summary>
    private sealed class RecordingModifier(List<string> changes, ActionFlags granted = ActionFlags.All) : IMessageModifier
    {
        public ActionFlags Granted => granted;
        public void AddHeader(string name, string value) => changes.Add($"{name}: {value}");
        public void InsertHeader(uint index, string name, string value) => changes.Add($"{index} {name}: {value}");
        public void ChangeHeader(uint index, string name, string value) => changes.Add($"{index} {name}: {value}");
        public void AddRecipient(string recipient, string? esmtpArguments = null) => changes.Add("rcpt " + recipient);
        public void DeleteRecipient(string recipient) => changes.Add("-rcpt " + recipient);
        public void ChangeFrom(string sender, string? esmtpArguments = null) => changes.Add("from " + sender);
        public void ReplaceBody(ReadOnlySpan<byte> chunk) => changes.Add("body");
        public void Quarantine(string reason) => changes.Add("quarantine " + reason);
    }
}
