using Milter.Filters.Configuration;
using Milter.Filters.Greylist;
using static Milter.Filters.Tests.Greylist.GreylistTestData;

namespace Milter.Filters.Tests.Greylist;

public class GreylistPolicyTests
{
    private static readonly Triplet Key = Mail("alice@example.org", "bob@example.com");

    [Fact]
    public void First_attempt_is_deferred_for_the_delay()
    {
        var clock = Clock();

        var first = GreylistPolicy.Evaluate(Key, null, clock.GetUtcNow(), Options);

        Assert.Equal(GreylistAction.Defer, first.Result.Action);
        Assert.Equal(GreylistRules.New, first.Result.Rule);
        Assert.Equal(120, first.Result.RetrySeconds);
        Assert.Equal("451 4.7.1 Greylisted, please retry in 120 seconds", GreylistResult.DeferReply(first.Result.RetrySeconds).ToString());
        Assert.Equal(new TripletEntry(Key, TripletState.Pending, Start, Start, Start.AddHours(5), 1), first.Entry);
    }

    [Theory]
    [InlineData(0, "451 4.7.1 Greylisted, please retry in 1 second")]
    [InlineData(1, "451 4.7.1 Greylisted, please retry in 1 second")]
    [InlineData(2, "451 4.7.1 Greylisted, please retry in 2 seconds")]
    public void A_deferral_says_second_for_one(long seconds, string reply) =>
        Assert.Equal(reply, GreylistResult.DeferReply(seconds).ToString());

    [Fact]
    public void Early_retry_is_deferred_again_without_resetting_the_clock()
    {
        var clock = Clock();
        var entry = GreylistPolicy.Evaluate(Key, null, clock.GetUtcNow(), Options).Entry;

        clock.Advance(TimeSpan.FromSeconds(50));
        var early = GreylistPolicy.Evaluate(Key, entry, clock.GetUtcNow(), Options);
        clock.Advance(TimeSpan.FromSeconds(69));
        var stillEarly = GreylistPolicy.Evaluate(Key, early.Entry, clock.GetUtcNow(), Options);
        clock.Advance(TimeSpan.FromSeconds(1));
        var passed = GreylistPolicy.Evaluate(Key, stillEarly.Entry, clock.GetUtcNow(), Options);

        Assert.Equal((GreylistAction.Defer, GreylistRules.Early, 70L), (early.Result.Action, early.Result.Rule, early.Result.RetrySeconds));
        Assert.Equal(Start, early.Entry.FirstSeen);
        Assert.Equal(1, stillEarly.Result.RetrySeconds);
        Assert.Equal(3, stillEarly.Entry.Deferrals);
        Assert.Equal(GreylistAction.Pass, passed.Result.Action);
        Assert.True(passed.Result.FirstPass);
    }

    [Fact]
    public void A_first_sighting_after_now_counts_as_now_so_a_clock_set_back_costs_the_delay_not_the_step()
    {
        var entry = GreylistPolicy.Evaluate(Key, null, Start.AddHours(2), Options).Entry; // the clock two hours ahead

        var back = GreylistPolicy.Evaluate(Key, entry, Start, Options);                 // and set right

        Assert.Equal((GreylistAction.Defer, GreylistRules.Early, 120L), (back.Result.Action, back.Result.Rule, back.Result.RetrySeconds));
        Assert.Equal((Start, Start.AddHours(5), 2), (back.Entry.FirstSeen, back.Entry.Expires, back.Entry.Deferrals));
        var passed = GreylistPolicy.Evaluate(Key, back.Entry, Start.AddSeconds(120), Options);
        Assert.Equal((GreylistAction.Pass, TimeSpan.FromSeconds(120)), (passed.Result.Action, passed.Result.Delayed));
    }

    [Fact]
    public void Retry_seconds_are_rounded_up()
    {
        var entry = GreylistPolicy.Evaluate(Key, null, Start, Options).Entry;

        var early = GreylistPolicy.Evaluate(Key, entry, Start.AddSeconds(100.25), Options);

        Assert.Equal(20, early.Result.RetrySeconds);
    }

    [Fact]
    public void Retry_after_delay_passes_and_is_kept_for_the_pass_lifetime()
    {
        var clock = Clock();
        var entry = GreylistPolicy.Evaluate(Key, null, clock.GetUtcNow(), Options).Entry;

        clock.Advance(TimeSpan.FromMinutes(7));
        var retry = GreylistPolicy.Evaluate(Key, entry, clock.GetUtcNow(), Options);

        Assert.Equal(GreylistAction.Pass, retry.Result.Action);
        Assert.Equal(GreylistRules.Passed, retry.Result.Rule);
        Assert.Equal(TripletState.Passed, retry.Entry.State);
        Assert.Equal(Start, retry.Entry.FirstSeen);
        Assert.Equal(clock.GetUtcNow().AddDays(36), retry.Entry.Expires);
        Assert.Equal(1, retry.Entry.Deferrals);
    }

    [Fact]
    public void Retry_after_the_window_is_treated_as_new()
    {
        var clock = Clock();
        var entry = GreylistPolicy.Evaluate(Key, null, clock.GetUtcNow(), Options).Entry;

        clock.Advance(TimeSpan.FromHours(5));
        var late = GreylistPolicy.Evaluate(Key, entry, clock.GetUtcNow(), Options);

        Assert.Equal((GreylistAction.Defer, GreylistRules.New, 120L), (late.Result.Action, late.Result.Rule, late.Result.RetrySeconds));
        Assert.Equal(clock.GetUtcNow(), late.Entry.FirstSeen);
    }

    [Fact]
    public void Passed_triplet_used_again_passes_and_its_lifetime_is_extended()
    {
        var clock = Clock();
        var entry = GreylistPolicy.Evaluate(Key, null, clock.GetUtcNow(), Options).Entry;
        clock.Advance(TimeSpan.FromMinutes(3));
        entry = GreylistPolicy.Evaluate(Key, entry, clock.GetUtcNow(), Options).Entry;

        clock.Advance(TimeSpan.FromDays(30));
        var again = GreylistPolicy.Evaluate(Key, entry, clock.GetUtcNow(), Options);

        Assert.Equal(GreylistAction.Pass, again.Result.Action);
        Assert.False(again.Result.FirstPass);
        Assert.Equal(clock.GetUtcNow().AddDays(36), again.Entry.Expires);
    }

    [Fact]
    public void Passed_triplet_unused_for_its_lifetime_is_greylisted_again()
    {
        var clock = Clock();
        var entry = GreylistPolicy.Evaluate(Key, null, clock.GetUtcNow(), Options).Entry;
        clock.Advance(TimeSpan.FromMinutes(3));
        entry = GreylistPolicy.Evaluate(Key, entry, clock.GetUtcNow(), Options).Entry;

        clock.Advance(TimeSpan.FromDays(36));
        var stale = GreylistPolicy.Evaluate(Key, entry, clock.GetUtcNow(), Options);

        Assert.Equal(GreylistRules.New, stale.Result.Rule);
    }

    [Fact]
    public void Zero_delay_passes_the_first_attempt()
    {
        var first = GreylistPolicy.Evaluate(Key, null, Start, Options with { Delay = TimeSpan.Zero });

        Assert.Equal(GreylistAction.Pass, first.Result.Action);
        Assert.True(first.Result.FirstPass);
    }

    [Theory]
    [InlineData(4, 0, false)]
    [InlineData(5, 0, true)]
    [InlineData(9, 0, true)]
    [InlineData(5, 36, false)]
    public void Auto_whitelist_needs_enough_live_passes(int passes, int daysLater, bool whitelisted)
    {
        var clock = Clock();
        var entry = new AutoWhitelistEntry("net:203.0.113.0/24", "example.org", passes, Start, Start, Start.AddDays(36));

        clock.Advance(TimeSpan.FromDays(daysLater));

        Assert.Equal(whitelisted, GreylistPolicy.IsWhitelisted(entry, clock.GetUtcNow(), Options));
    }

    [Fact]
    public void Auto_whitelist_after_zero_is_off()
    {
        var entry = new AutoWhitelistEntry("net:203.0.113.0/24", "example.org", 50, Start, Start, Start.AddDays(36));

        Assert.False(GreylistPolicy.IsWhitelisted(entry, Start, Options with { AutoWhitelist = new AutoWhitelistOptions { After = 0 } }));
    }

    [Fact]
    public void Null_sender_never_counts_for_the_auto_whitelist()
    {
        Assert.False(GreylistPolicy.CountsForAutoWhitelist(Mail("<>", "bob@example.com")));
        Assert.True(GreylistPolicy.CountsForAutoWhitelist(Key));
    }

    [Theory]
    [InlineData(2, 3, false)]
    [InlineData(3, 3, true)]
    [InlineData(99, 0, false)]
    public void Bypass_ban_at_the_configured_number_of_rejections(int strikes, int after, bool ban)
    {
        Assert.Equal(ban, GreylistPolicy.ShouldBan(strikes, Options with { BypassBan = new BypassBanOptions { After = after } }));
    }
}
