using System.Net;
using Microsoft.Data.Sqlite;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Logging.Testing;
using Microsoft.Extensions.Time.Testing;
using Milter.Filters.Ban;
using Milter.Filters.Configuration;
using Milter.Filters.Context;
using Milter.Filters.Greylist;
using Milter.Filters.Logging;
using Milter.Filters.Stores;
using Milter.Protocol.Negotiation;
using Milter.Protocol.Replies;
using static Milter.Filters.Tests.Greylist.GreylistTestData;

namespace Milter.Filters.Tests.Greylist;

/// <summary>The greylist filter driven through its IMilterFilter methods, on a real SQLite store.</summary>
public sealed class GreylistFilterTests : IAsyncLifetime
{
    private const string Deferred120 = "451 4.7.1 Greylisted, please retry in 120 seconds";

    private readonly string _folder = Path.Combine(Path.GetTempPath(), "milterhost-filter-" + Guid.NewGuid().ToString("N"));
    private readonly FakeTimeProvider _clock = Clock();
    private MilterStores _stores = null!;

    private string DatabasePath => Path.Combine(_folder, "greylist.db");

    public async Task InitializeAsync() =>
        _stores = await StoreFactory.OpenAsync("sqlite:" + DatabasePath, _clock, null, new StoreOptions { BusyTimeout = TimeSpan.FromMilliseconds(300) });

    public async Task DisposeAsync()
    {
        await _stores.DisposeAsync();
        Directory.Delete(_folder, recursive: true);
    }

    private GreylistFilter Filter(GreylistOptions? greylist = null) =>
        new(_stores.Greylist.Check, greylist ?? Options, new RelayOptions().AllowClients, _clock, NullLogger<GreylistFilter>.Instance);

    private static SessionContext Session(string sender, IPAddress? client = null) => new()
    {
        ClientAddress = client ?? Client,
        ClientName = "mail.example.org",
        Sender = sender,
        QueueId = "4Q1abc",
    };

    /// <summary>One message: RCPT for each recipient, then DATA; returns what the sender would see.</summary>
    private static async Task<(Verdict[] Rcpt, Verdict Data)> SendAsync(GreylistFilter filter, SessionContext session, params string[] recipients)
    {
        var rcpt = new List<Verdict>();
        foreach (var recipient in recipients)
            rcpt.Add(await filter.OnRcptAsync(session, new RecipientContext(recipient), default));
        var data = await filter.OnDataAsync(session, default);
        session.ResetMessage();
        return ([.. rcpt], data);
    }

    private static void AssertDeferred(Verdict verdict, string reply, string rule)
    {
        Assert.Equal(VerdictKind.Tempfail, verdict.Kind);
        Assert.Equal(reply, verdict.Reply?.ToString());
        Assert.Equal(rule, verdict.Rule);
    }

    private async Task PassAsync(GreylistFilter filter, string sender, string recipient, IPAddress? client = null)
    {
        await SendAsync(filter, Session(sender, client), recipient);
        _clock.Advance(TimeSpan.FromMinutes(3));
        Assert.Equal(VerdictKind.Continue, (await SendAsync(filter, Session(sender, client), recipient)).Data.Kind);
    }

    private Task<IReadOnlyList<TripletEntry>> RecordedAsync() =>
        _stores.Greylist.Admin.ListTripletsAsync(new GreylistQuery(), _clock.GetUtcNow(), default);

    [Fact]
    public async Task Per_message_new_recipient_defers_the_whole_message_at_data_and_the_retry_passes_for_all()
    {
        var filter = Filter();
        await PassAsync(filter, "alice@example.org", "bob@example.com");

        var first = await SendAsync(filter, Session("alice@example.org"), "bob@example.com", "carol@example.com");
        _clock.Advance(TimeSpan.FromMinutes(2));
        var retry = await SendAsync(filter, Session("alice@example.org"), "bob@example.com", "carol@example.com");

        Assert.All(first.Rcpt, v => Assert.Equal(VerdictKind.Continue, v.Kind));
        AssertDeferred(first.Data, Deferred120, GreylistRules.New);
        Assert.All(retry.Rcpt, v => Assert.Equal(VerdictKind.Continue, v.Kind));
        Assert.Equal(VerdictKind.Continue, retry.Data.Kind);
        Assert.All(await RecordedAsync(), row => Assert.Equal(TripletState.Passed, row.State));
    }

    [Fact]
    public async Task In_monitor_mode_the_first_attempt_goes_through_and_its_triplet_is_recorded_as_in_enforce_mode()
    {
        var chain = new FilterChain([Filter()], OnError.Tempfail, NullLogger<FilterChain>.Instance, _clock,
            new Dictionary<string, FilterMode> { [FilterNames.Greylist] = FilterMode.Monitor });
        var message = Milter.Filters.Tests.Support.Transaction.From("203.0.113.5").MailFrom("alice@example.org").RcptTo("bob@example.com").EndOfMessage();

        var first = await message.RunAsync(chain);
        await _stores.Greylist.WhenAttemptsWrittenAsync(default);
        var pending = await RecordedAsync();
        _clock.Advance(TimeSpan.FromMinutes(3));
        var retry = await message.RunAsync(chain);

        // What the MTA heard: continue; what was logged: the deferral, not applied.
        Assert.Equal(("continue", "continue"), (first.Heard("DATA"), first.EndOfMessage));
        var decision = first.SingleDecision;
        Assert.Equal((FilterNames.Greylist, GreylistRules.New, VerdictKind.Tempfail, false), (decision.Filter, decision.Rule, decision.Verdict.Kind, decision.Applied));
        Assert.Equal(TripletState.Pending, Assert.Single(pending).State);
        // The retry after the delay passes, so switching to enforce delays nobody who already waited.
        Assert.Empty(retry.Decisions);
        Assert.Equal(TripletState.Passed, Assert.Single(await RecordedAsync()).State);
    }

    [Fact]
    public async Task Per_message_deferral_names_the_longest_wait_and_new_beats_early()
    {
        var filter = Filter();
        await SendAsync(filter, Session("alice@example.org"), "bob@example.com");

        _clock.Advance(TimeSpan.FromSeconds(60));
        var mixed = await SendAsync(filter, Session("alice@example.org"), "bob@example.com", "carol@example.com");
        _clock.Advance(TimeSpan.FromSeconds(40));
        var earlyOnly = await SendAsync(filter, Session("alice@example.org"), "bob@example.com");

        AssertDeferred(mixed.Data, Deferred120, GreylistRules.New);
        AssertDeferred(earlyOnly.Data, "451 4.7.1 Greylisted, please retry in 20 seconds", GreylistRules.Early);
    }

    [Fact]
    public async Task Per_recipient_mode_defers_each_new_recipient_at_rcpt()
    {
        var filter = Filter(Options with { PerMessage = false });
        await PassAsync(filter, "alice@example.org", "bob@example.com");

        var message = await SendAsync(filter, Session("alice@example.org"), "bob@example.com", "carol@example.com");

        Assert.Equal(VerdictKind.Continue, message.Rcpt[0].Kind);
        AssertDeferred(message.Rcpt[1], Deferred120, GreylistRules.New);
        Assert.Equal(VerdictKind.Continue, message.Data.Kind);
    }

    [Fact]
    public async Task Per_recipient_mode_defers_a_bounce_once_at_data()
    {
        var filter = Filter(Options with { PerMessage = false });

        var bounce = await SendAsync(filter, Session(""), "bob@example.com", "carol@example.com");
        _clock.Advance(TimeSpan.FromMinutes(2));
        var retry = await SendAsync(filter, Session(""), "bob@example.com", "carol@example.com");

        Assert.All(bounce.Rcpt, v => Assert.Equal(VerdictKind.Continue, v.Kind));
        AssertDeferred(bounce.Data, Deferred120, GreylistRules.New);
        Assert.Equal(VerdictKind.Continue, retry.Data.Kind);
        Assert.Equal(2, (await RecordedAsync()).Count(row => row.Triplet.IsNullSender && row.State == TripletState.Passed));
    }

    [Fact]
    public async Task Held_deferral_belongs_to_its_message_only()
    {
        var filter = Filter();
        await PassAsync(filter, "alice@example.org", "bob@example.com");
        var session = Session("alice@example.org");

        var deferred = await SendAsync(filter, session, "new@example.com");
        session.Sender = "alice@example.org";
        var next = await SendAsync(filter, session, "bob@example.com");

        AssertDeferred(deferred.Data, Deferred120, GreylistRules.New);
        Assert.Equal(VerdictKind.Continue, next.Data.Kind);
    }

    public static TheoryData<string> ExemptCases => 
        ["local submission", "authenticated", "relay.allow_clients", "skip.clients", "skip.senders", "skip.senders domain", "skip.recipients", "skip.recipients regex"];

    [Theory]
    [MemberData(nameof(ExemptCases))]
    public async Task Exempt_sessions_are_never_greylisted_nor_recorded(string exemption)
    {
        var greylist = Options with
        {
            Skip = new GreylistSkipOptions
            {
                Clients = [IPNetwork.Parse("192.0.2.0/24")],
                Senders = ["*@partner.example", "@bank.example"],
                Recipients = ["abuse@example.com", "/^postmaster@/i"],
            },
        };
        var filter = Filter(greylist);
        var session = Session("alice@example.org");
        var recipient = "bob@example.com";
        switch (exemption)
        {
            case "local submission": session.ClientAddress = null; session.IsLocalSubmission = true; break;
            case "authenticated": session.AuthenticatedUser = "alice"; break;
            case "relay.allow_clients": session.ClientAddress = IPAddress.Parse("127.0.0.1"); break;
            case "skip.clients": session.ClientAddress = IPAddress.Parse("::ffff:192.0.2.10"); break;
            case "skip.senders": session.Sender = "SRS0=h=tt=partner.example=news@forwarder.example"; break;
            case "skip.senders domain": session.Sender = "prvs=1234abcdef=alerts@bank.example"; break;
            case "skip.recipients": recipient = "Abuse@Example.com"; break;
            case "skip.recipients regex": recipient = "PostMaster@example.com"; break;
        }

        var message = await SendAsync(filter, session, recipient);

        Assert.Equal(VerdictKind.Continue, message.Rcpt[0].Kind);
        Assert.Equal(VerdictKind.Continue, message.Data.Kind);
        Assert.Empty(await RecordedAsync());
    }

    [Fact]
    public void Bad_skip_pattern_is_refused_when_the_filter_is_built()
    {
        var error = Assert.Throws<FormatException>(() => Filter(Options with { Skip = new GreylistSkipOptions { Senders = ["/[unclosed/"] } }));

        Assert.Contains("[unclosed", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Authenticated_session_is_greylisted_when_skip_authenticated_is_off()
    {
        var filter = Filter(Options with { Skip = new GreylistSkipOptions { Authenticated = false } });
        var session = Session("alice@example.org");
        session.AuthenticatedUser = "alice";

        var message = await SendAsync(filter, session, "bob@example.com");

        AssertDeferred(message.Data, Deferred120, GreylistRules.New);
    }

    [Fact]
    public async Task Disabled_greylist_asks_for_nothing_and_continues()
    {
        var filter = Filter(Options with { Enabled = false });

        var message = await SendAsync(filter, Session("alice@example.org"), "bob@example.com");

        Assert.Equal(MilterStages.None, filter.Needs.Stages);
        Assert.Equal(VerdictKind.Continue, message.Data.Kind);
        Assert.Empty(await RecordedAsync());
    }

    [Fact]
    public async Task Without_DATA_from_the_MTA_end_of_message_answers_for_it_and_with_DATA_it_does_not_answer_twice()
    {
        var filter = Filter(Options with { AddHeader = false });
        var modifier = new NoChanges();

        // Milter protocol 2 or 3 (Postfix milter_protocol = 2): RCPT, then straight to end of message.
        var session = Session("alice@example.org");
        Assert.Equal(VerdictKind.Continue, (await filter.OnRcptAsync(session, new RecipientContext("bob@example.com"), default)).Kind);
        AssertDeferred(await filter.OnEndOfMessageAsync(session, modifier, default), Deferred120, GreylistRules.New);

        // With DATA the deferral is DATA's; an end of message after it (none comes in practice) stays quiet.
        session = Session("dave@example.org");
        await filter.OnRcptAsync(session, new RecipientContext("bob@example.com"), default);
        AssertDeferred(await filter.OnDataAsync(session, default), Deferred120, GreylistRules.New);
        Assert.Equal(VerdictKind.Continue, (await filter.OnEndOfMessageAsync(session, modifier, default)).Kind);

        // The retry passes at end of message too.
        _clock.Advance(TimeSpan.FromMinutes(3));
        session = Session("alice@example.org");
        await filter.OnRcptAsync(session, new RecipientContext("bob@example.com"), default);
        Assert.Equal(VerdictKind.Continue, (await filter.OnEndOfMessageAsync(session, modifier, default)).Kind);
    }

    /// <summary>An MTA that granted no change; the filters here make none without add_header.</summary>
    private sealed class NoChanges : Milter.Protocol.Session.IMessageModifier
    {
        public ActionFlags Granted => ActionFlags.None;
        public void AddHeader(string name, string value) => throw new InvalidOperationException();
        public void InsertHeader(uint index, string name, string value) => throw new InvalidOperationException();
        public void ChangeHeader(uint index, string name, string value) => throw new InvalidOperationException();
        public void AddRecipient(string recipient, string? esmtpArguments = null) => throw new InvalidOperationException();
        public void DeleteRecipient(string recipient) => throw new InvalidOperationException();
        public void ChangeFrom(string sender, string? esmtpArguments = null) => throw new InvalidOperationException();
        public void ReplaceBody(ReadOnlySpan<byte> chunk) => throw new InvalidOperationException();
        public void Quarantine(string reason) => throw new InvalidOperationException();
    }

    [Fact]
    public async Task A_message_that_came_back_adds_one_pass_to_the_auto_whitelist_however_many_recipients_it_has()
    {
        var filter = Filter(Options with { AddHeader = false });
        string[] five = ["r1@example.com", "r2@example.com", "r3@example.com", "r4@example.com", "r5@example.com"];
        await SendAsync(filter, Session("news@example.org"), five);
        _clock.Advance(TimeSpan.FromMinutes(3));
        var retry = await SendAsync(filter, Session("news@example.org"), five);

        Assert.Equal(VerdictKind.Continue, retry.Data.Kind);
        var awl = Assert.Single(await _stores.Greylist.Admin.ListAutoWhitelistAsync(new GreylistQuery(), _clock.GetUtcNow(), default));
        Assert.Equal(1, awl.Passes);
        // So another sender of the domain, from the same network, is not waved through: greylisted as new.
        var other = await SendAsync(filter, Session("someone-else@example.org"), "never-seen@example.com");
        AssertDeferred(other.Data, Deferred120, GreylistRules.New);

        // Five messages that came back do whitelist it (after: 5).
        for (var i = 2; i <= 5; i++)
            await PassAsync(filter, $"sender{i}@example.org", $"x{i}@example.com");
        Assert.Equal(5, Assert.Single(await _stores.Greylist.Admin.ListAutoWhitelistAsync(new GreylistQuery(), _clock.GetUtcNow(), default)).Passes);
        var whitelisted = await SendAsync(filter, Session("someone-else@example.org"), "never-seen-either@example.com");
        Assert.Equal(VerdictKind.Continue, whitelisted.Data.Kind);
    }

    [Fact]
    public async Task A_message_deferred_at_data_after_one_recipient_passed_counts_its_pass_when_it_comes_back_not_twice()
    {
        var filter = Filter(Options with { AddHeader = false });
        // r1 waits; then a message to r1 and r2: r1 passes for the first time (counted at RCPT), r2 is new.
        await SendAsync(filter, Session("news@example.org"), "r1@example.com");
        _clock.Advance(TimeSpan.FromMinutes(3));
        var both = await SendAsync(filter, Session("news@example.org"), "r1@example.com", "r2@example.com");
        AssertDeferred(both.Data, Deferred120, GreylistRules.New);
        var taken = Assert.Single(await _stores.Greylist.Admin.ListAutoWhitelistAsync(new GreylistQuery(), _clock.GetUtcNow(), default));
        Assert.Equal(0, taken.Passes);

        // The message comes back: r1 passed before, r2 passes for the first time; one message, one pass.
        _clock.Advance(TimeSpan.FromMinutes(3));
        var retry = await SendAsync(filter, Session("news@example.org"), "r1@example.com", "r2@example.com");
        Assert.Equal(VerdictKind.Continue, retry.Data.Kind);
        Assert.Equal(1, Assert.Single(await _stores.Greylist.Admin.ListAutoWhitelistAsync(new GreylistQuery(), _clock.GetUtcNow(), default)).Passes);
    }

    [Fact]
    public async Task Without_DATA_from_the_MTA_the_deferral_at_end_of_message_takes_the_pass_back_too()
    {
        var filter = Filter(Options with { AddHeader = false });
        await SendAsync(filter, Session("news@example.org"), "r1@example.com");
        _clock.Advance(TimeSpan.FromMinutes(3));
        var session = Session("news@example.org");
        Assert.Equal(VerdictKind.Continue, (await filter.OnRcptAsync(session, new RecipientContext("r1@example.com"), default)).Kind);
        Assert.Equal(VerdictKind.Continue, (await filter.OnRcptAsync(session, new RecipientContext("r2@example.com"), default)).Kind);
        var end = await filter.OnEndOfMessageAsync(session, new NoChanges(), default);
        AssertDeferred(end, Deferred120, GreylistRules.New);
        Assert.Equal(0, Assert.Single(await _stores.Greylist.Admin.ListAutoWhitelistAsync(new GreylistQuery(), _clock.GetUtcNow(), default)).Passes);
    }

    [Fact]
    public async Task Per_recipient_mode_keeps_the_pass_of_a_recipient_accepted_beside_one_deferred()
    {
        // At RCPT each recipient is answered on its own: r1 is accepted and delivered, so its pass stays.
        var filter = Filter(Options with { AddHeader = false, PerMessage = false });
        await SendAsync(filter, Session("news@example.org"), "r1@example.com");
        _clock.Advance(TimeSpan.FromMinutes(3));
        var both = await SendAsync(filter, Session("news@example.org"), "r1@example.com", "r2@example.com");
        Assert.Equal(VerdictKind.Continue, both.Rcpt[0].Kind);
        AssertDeferred(both.Rcpt[1], Deferred120, GreylistRules.New);
        Assert.Equal(1, Assert.Single(await _stores.Greylist.Admin.ListAutoWhitelistAsync(new GreylistQuery(), _clock.GetUtcNow(), default)).Passes);
    }

    [Fact]
    public void Needs_rcpt_and_data_and_the_auth_macro()
    {
        // Without add_header; GreylistHeaderTests covers what the header adds.
        var filter = Filter(Options with { AddHeader = false });

        Assert.Equal("greylist", filter.Name);
        Assert.Equal(MilterStages.Rcpt | MilterStages.Data | MilterStages.EndOfMessage, filter.Needs.Stages);
        Assert.Equal(["{auth_authen}"], filter.Needs.Macros[MacroStage.EnvFrom]);
    }

    private async Task<SqliteConnection> LockDatabaseAsync()
    {
        var connection = new SqliteConnection($"Data Source={DatabasePath};Pooling=False");
        await connection.OpenAsync();
        await using var command = connection.CreateCommand();
        command.CommandText = "BEGIN EXCLUSIVE";
        await command.ExecuteNonQueryAsync();
        return connection;
    }

    [Fact]
    public async Task Store_failure_in_per_message_mode_is_answered_once_at_data()
    {
        var filter = Filter();
        await DeferThenWaitOutTheDelayAsync(filter, Options);
        var session = Session("alice@example.org");

        // The retry passes; a pass must be written before it is answered, and the lock stops that.
        Verdict rcpt;
        await using (await LockDatabaseAsync())
            rcpt = await filter.OnRcptAsync(session, new RecipientContext("bob@example.com"), default);
        var data = await Assert.ThrowsAsync<StoreUnavailableException>(() => filter.OnDataAsync(session, default).AsTask());

        Assert.Equal(VerdictKind.Continue, rcpt.Kind);
        Assert.IsType<StoreUnavailableException>(data.InnerException);
    }

    private async Task<int> AutoWhitelistPassesAsync() =>
        Assert.Single(await _stores.Greylist.Admin.ListAutoWhitelistAsync(new GreylistQuery(), _clock.GetUtcNow(), default)).Passes;

    [Fact]
    public async Task A_message_answered_per_on_error_at_data_takes_back_its_pass_and_counts_once_when_it_comes_back()
    {
        var filter = Filter(Options with { AddHeader = false });
        // news -> r1 and news -> r2 both waited out the delay.
        AssertDeferred((await SendAsync(filter, Session("news@example.org"), "r1@example.com", "r2@example.com")).Data, Deferred120, GreylistRules.New);
        await _stores.Greylist.WhenAttemptsWrittenAsync(default);
        _clock.Advance(TimeSpan.FromMinutes(3));

        // r1 passes for the first time (counted); then another program holds the database, so r2 cannot be checked.
        var session = Session("news@example.org");
        Assert.Equal(VerdictKind.Continue, (await filter.OnRcptAsync(session, new RecipientContext("r1@example.com"), default)).Kind);
        await using (await LockDatabaseAsync())
            Assert.Equal(VerdictKind.Continue, (await filter.OnRcptAsync(session, new RecipientContext("r2@example.com"), default)).Kind);
        await Assert.ThrowsAsync<StoreUnavailableException>(() => filter.OnDataAsync(session, default).AsTask());
        session.ResetMessage();
        Assert.Equal(0, await AutoWhitelistPassesAsync());

        // on_error: tempfail, so the message comes back and passes: one pass.
        _clock.Advance(TimeSpan.FromMinutes(3));
        Assert.Equal(VerdictKind.Continue, (await SendAsync(filter, Session("news@example.org"), "r1@example.com", "r2@example.com")).Data.Kind);
        Assert.Equal(1, await AutoWhitelistPassesAsync());
    }

    [Fact]
    public async Task A_pass_taken_back_at_data_leaves_no_auto_whitelisting_in_memory_that_the_count_no_longer_makes()
    {
        var filter = Filter(Options with { AddHeader = false });
        // Four messages that came back; the fifth pass whitelists (after: 5).
        for (var i = 1; i <= 4; i++)
            await PassAsync(filter, $"sender{i}@example.org", $"x{i}@example.com");
        Assert.Equal(4, await AutoWhitelistPassesAsync());
        await SendAsync(filter, Session("news@example.org"), "r2@example.com");
        await _stores.Greylist.WhenAttemptsWrittenAsync(default);
        _clock.Advance(TimeSpan.FromMinutes(3));

        // One message: r1 new, r2 passes for the first time (the fifth pass), r3 reads the client whitelisted.
        var message = await SendAsync(filter, Session("news@example.org"), "r1@example.com", "r2@example.com", "r3@example.com");
        AssertDeferred(message.Data, Deferred120, GreylistRules.New);
        Assert.Equal(4, await AutoWhitelistPassesAsync());

        // Four passes: a new triplet of that domain from that network is greylisted.
        AssertDeferred((await SendAsync(filter, Session("someone-else@example.org"), "never-seen@example.com")).Data, Deferred120, GreylistRules.New);
    }

    [Fact]
    public async Task When_the_pass_cannot_be_taken_back_the_deferral_stands_and_the_line_says_so()
    {
        var collector = new FakeLogCollector();
        var filter = new GreylistFilter(_stores.Greylist.Check, Options with { AddHeader = false }, new RelayOptions().AllowClients, _clock,
            new FakeLogger<GreylistFilter>(collector));
        await DeferThenWaitOutTheDelayAsync(filter, Options);
        var session = Session("alice@example.org");
        Assert.Equal(VerdictKind.Continue, (await filter.OnRcptAsync(session, new RecipientContext("bob@example.com"), default)).Kind);
        Assert.Equal(VerdictKind.Continue, (await filter.OnRcptAsync(session, new RecipientContext("carol@example.com"), default)).Kind);
        await _stores.Greylist.WhenAttemptsWrittenAsync(default);

        Verdict data;
        await using (await LockDatabaseAsync())
            data = await filter.OnDataAsync(session, default);

        AssertDeferred(data, Deferred120, GreylistRules.New);
        var line = Assert.Single(collector.GetSnapshot(), r => r.Id.Id == FilterEventId.AutoWhitelistUncountFailed);
        Assert.Equal(LogLevel.Warning, line.Level);
        Assert.Contains("bob@example.com", line.Message, StringComparison.Ordinal);
        Assert.IsType<StoreUnavailableException>(line.Exception);
        // The pass stays counted: the retry will count a second one, as the line says.
        Assert.Equal(1, Assert.Single(await _stores.Greylist.Admin.ListAutoWhitelistAsync(new GreylistQuery(), _clock.GetUtcNow(), default)).Passes);
    }

    [Fact]
    public async Task A_bounce_deferred_at_data_has_no_pass_to_take_back()
    {
        var collector = new FakeLogCollector();
        var filter = new GreylistFilter(_stores.Greylist.Check, Options with { AddHeader = false }, new RelayOptions().AllowClients, _clock,
            new FakeLogger<GreylistFilter>(collector));
        await SendAsync(filter, Session(""), "bob@example.com");
        await _stores.Greylist.WhenAttemptsWrittenAsync(default);
        _clock.Advance(TimeSpan.FromMinutes(3));
        var session = Session("");
        await filter.OnRcptAsync(session, new RecipientContext("bob@example.com"), default);
        await filter.OnRcptAsync(session, new RecipientContext("carol@example.com"), default);
        await _stores.Greylist.WhenAttemptsWrittenAsync(default);

        Verdict data;
        await using (await LockDatabaseAsync())
            data = await filter.OnDataAsync(session, default);

        // No write was tried: a locked database would have made it fail and say so.
        AssertDeferred(data, Deferred120, GreylistRules.New);
        Assert.DoesNotContain(collector.GetSnapshot(), r => r.Id.Id == FilterEventId.AutoWhitelistUncountFailed);
        Assert.Empty(await _stores.Greylist.Admin.ListAutoWhitelistAsync(new GreylistQuery(), _clock.GetUtcNow(), default));
    }

    [Fact]
    public async Task Store_failure_in_per_recipient_mode_surfaces_at_rcpt()
    {
        var filter = Filter(Options with { PerMessage = false });
        await DeferThenWaitOutTheDelayAsync(filter, Options with { PerMessage = false });

        await using (await LockDatabaseAsync())
        {
            await Assert.ThrowsAsync<StoreUnavailableException>(() =>
                filter.OnRcptAsync(Session("alice@example.org"), new RecipientContext("bob@example.com"), default).AsTask());
        }
    }

    // Alice's first attempt to bob, written, and the clock past the delay: her next attempt is a first pass.
    private async Task DeferThenWaitOutTheDelayAsync(GreylistFilter filter, GreylistOptions options)
    {
        var session = Session("alice@example.org");
        var rcpt = await filter.OnRcptAsync(session, new RecipientContext("bob@example.com"), default);
        if (options.PerMessage)
            Assert.Equal(VerdictKind.Tempfail, (await filter.OnDataAsync(session, default)).Kind);
        else
            Assert.Equal(VerdictKind.Tempfail, rcpt.Kind);
        await _stores.Greylist.WhenAttemptsWrittenAsync(default);
        _clock.Advance(options.Delay + TimeSpan.FromSeconds(1));
    }

    private BypassBanRecorder Recorder(IDecisionSink? next = null) =>
        new(next, _stores.BypassBans, new MilterOptions { Greylist = Options }, _clock, NullLogger<BypassBanRecorder>.Instance);

    private static readonly Decision Unknown = new("rcpt",
        Verdict.Reject(SmtpReply.Parse("550 5.1.1 User unknown"), "unknown"), "recipients", "unknown", "x@example.com");

    [Fact]
    public async Task Strikes_reported_in_the_background_are_followed_until_written()
    {
        await PassAsync(Filter(), "alice@example.org", "bob@example.com");
        var pending = new PendingWrites();
        var recorder = new BypassBanRecorder(null, _stores.BypassBans, new MilterOptions { Greylist = Options }, _clock, NullLogger<BypassBanRecorder>.Instance, pending);
        var session = Session("alice@example.org");

        for (var i = 0; i < Options.BypassBan.After; i++)
        {
            recorder.OnDecision(session, Unknown);
            session.ResetMessage();
        }
        await pending.WhenAllAsync();

        Assert.Equal(0, pending.Count);
        var bans = await _stores.Bans.ListAsync(_clock.GetUtcNow(), default);
        Assert.Equal(BanSource.Bypass, Assert.Single(bans).Source);
    }

    [Fact]
    public async Task Refusals_by_ban_or_recipients_count_toward_the_bypass_ban()
    {
        await PassAsync(Filter(), "alice@example.org", "bob@example.com");
        var recorder = Recorder();
        var session = Session("alice@example.org");
        var relay = new Decision("rcpt", Verdict.Reject(SmtpReply.Parse("550 5.7.1 Relaying denied"), "relay"), "relay", "relay", "x@elsewhere.example");
        var failure = Unknown with { Verdict = Verdict.Tempfail(SmtpReply.Parse("451 4.3.0 Temporary local problem"), "on_error"), Rule = "on_error" };

        for (var i = 0; i < 5; i++)
        {
            Assert.Null(await recorder.RecordAsync(session, relay, default));
            Assert.Null(await recorder.RecordAsync(session, failure, default));
        }
        var first = await recorder.RecordAsync(session, Unknown, default);
        session.ResetMessage();
        var second = await recorder.RecordAsync(session, Unknown with { Filter = "ban", Rule = "ban#2" }, default);
        session.ResetMessage();
        var third = await recorder.RecordAsync(session, Unknown, default);

        Assert.Null(first);
        Assert.Null(second);
        Assert.Equal(BanSource.Bypass, third?.Source);
        Assert.NotNull(await _stores.Bans.FindAsync(Client, _clock.GetUtcNow(), default));
    }

    [Fact]
    public async Task A_message_counts_once_however_many_of_its_recipients_were_refused()
    {
        await PassAsync(Filter(), "alice@example.org", "bob@example.com");
        var recorder = Recorder();
        var session = Session("alice@example.org");

        // A list server's post to five departed subscribers, twice: two strikes, no ban.
        for (var message = 0; message < 2; message++)
        {
            for (var i = 0; i < 5; i++)
                Assert.Null(await recorder.RecordAsync(session, Unknown with { Recipient = $"gone{i}@example.com" }, default));
            session.ResetMessage();
        }
        Assert.Null(await _stores.Bans.FindAsync(Client, _clock.GetUtcNow(), default));

        // The third message makes three.
        Assert.NotNull(await recorder.RecordAsync(session, Unknown, default));
    }

    [Fact]
    public async Task Strikes_are_each_clients_own_and_the_ban_is_its_address_or_its_ipv6_64()
    {
        // 203.0.113.5 passed, so its /24 has; three neighbours misbehave once each: nobody is banned.
        await PassAsync(Filter(), "alice@example.org", "bob@example.com");
        var recorder = Recorder();
        foreach (var neighbour in (string[])["203.0.113.6", "203.0.113.7", "203.0.113.8"])
            Assert.Null(await recorder.RecordAsync(Session("x@example.org", IPAddress.Parse(neighbour)), Unknown, default));
        Assert.Empty(await _stores.Bans.ListAsync(_clock.GetUtcNow(), default));

        // An IPv6 host that moves within its /64 keeps its strikes, and the ban covers the /64.
        var v6 = IPAddress.Parse("2001:db8:77::12");
        await PassAsync(Filter(), "carol@example.org", "bob@example.com", v6);
        var third = (DynamicBan?)null;
        foreach (var address in (string[])["2001:db8:77::12", "2001:db8:77::13", "2001:db8:77::14"])
            third = await recorder.RecordAsync(Session("y@example.org", IPAddress.Parse(address)), Unknown, default);
        Assert.Equal("2001:db8:77::/64", third?.Network.ToString());
        Assert.NotNull(await _stores.Bans.FindAsync(IPAddress.Parse("2001:db8:77::99"), _clock.GetUtcNow(), default));
        Assert.Null(await _stores.Bans.FindAsync(IPAddress.Parse("203.0.113.8"), _clock.GetUtcNow(), default));
    }

    [Fact]
    public async Task A_bypass_ban_never_covers_a_trusted_client_in_the_offenders_ipv6_64()
    {
        // A partner relay in relay.allow_clients shares the offender's /64 (a shared VPS network).
        var trusted = IPAddress.Parse("2001:db8:77::25");
        var recorder = new BypassBanRecorder(null, _stores.BypassBans,
            new MilterOptions { Greylist = Options, Relay = new RelayOptions { AllowClients = [new IPNetwork(trusted, 128)] } },
            _clock, NullLogger<BypassBanRecorder>.Instance);
        var offender = IPAddress.Parse("2001:db8:77::12");
        await PassAsync(Filter(), "carol@example.org", "bob@example.com", offender);
        DynamicBan? ban = null;
        for (var i = 0; i < Options.BypassBan.After; i++)
            ban = await recorder.RecordAsync(Session("y@example.org", offender), Unknown, default);

        // The offender's address alone; the trusted host still connects.
        Assert.Equal("2001:db8:77::12/128", ban?.Network.ToString());
        Assert.NotNull(await _stores.Bans.FindAsync(offender, _clock.GetUtcNow(), default));
        Assert.Null(await _stores.Bans.FindAsync(trusted, _clock.GetUtcNow(), default));
        var connect = await new BanFilter([], _stores.Bans, _clock).OnConnectAsync(new SessionContext { ClientAddress = trusted }, default);
        Assert.Equal(VerdictKind.Continue, connect.Kind);
    }

    [Fact]
    public async Task Refusals_in_an_authenticated_session_never_count_toward_the_bypass_ban()
    {
        await PassAsync(Filter(), "alice@example.org", "bob@example.com");
        var recorder = Recorder();
        var session = Session("alice@example.org");
        session.AuthenticatedUser = "alice";

        for (var i = 0; i < 5; i++)
            Assert.Null(await recorder.RecordAsync(session, Unknown, default));

        Assert.Null(await _stores.Bans.FindAsync(Client, _clock.GetUtcNow(), default));
    }

    [Fact]
    public async Task Refusals_a_monitored_filter_did_not_apply_never_count_toward_the_bypass_ban()
    {
        await PassAsync(Filter(), "alice@example.org", "bob@example.com");
        var recorder = Recorder();
        var session = Session("alice@example.org");

        for (var i = 0; i < 5; i++)
            Assert.Null(await recorder.RecordAsync(session, Unknown with { Applied = false }, default));

        Assert.Null(await _stores.Bans.FindAsync(Client, _clock.GetUtcNow(), default));
        Assert.Empty(await _stores.Bans.ListAsync(_clock.GetUtcNow(), default));
    }

    [Fact]
    public async Task Refusals_of_a_trusted_client_never_count_toward_the_bypass_ban()
    {
        await PassAsync(Filter(), "alice@example.org", "bob@example.com");
        var trusted = new MilterOptions { Greylist = Options, Relay = new RelayOptions { AllowClients = [IPNetwork.Parse("203.0.113.0/28")] } };
        var recorder = new BypassBanRecorder(null, _stores.BypassBans, trusted, _clock, NullLogger<BypassBanRecorder>.Instance);

        for (var i = 0; i < 5; i++)
            Assert.Null(await recorder.RecordAsync(Session("alice@example.org"), Unknown, default));

        Assert.Null(await _stores.Bans.FindAsync(Client, _clock.GetUtcNow(), default));
    }

    [Fact]
    public async Task Recorder_passes_every_decision_on_and_bans_in_the_background()
    {
        await PassAsync(Filter(), "alice@example.org", "bob@example.com");
        var log = new CollectingSink();
        var recorder = Recorder(log);

        for (var i = 0; i < 3; i++)
            recorder.OnDecision(Session("alice@example.org"), Unknown);

        Assert.Equal(3, log.Decisions.Count);
        var deadline = DateTime.UtcNow.AddSeconds(10);
        DynamicBan? ban;
        while ((ban = await _stores.Bans.FindAsync(Client, _clock.GetUtcNow(), default)) is null && DateTime.UtcNow < deadline)
            await Task.Delay(20);
        Assert.Equal(BanSource.Bypass, ban?.Source);
    }

    private sealed class CollectingSink : IDecisionSink
    {
        public List<Decision> Decisions { get; } = [];

        public void OnDecision(SessionContext session, Decision decision)
        {
            lock (Decisions)
                Decisions.Add(decision);
        }
    }
}
