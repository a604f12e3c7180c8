using System.Text.RegularExpressions;
using EndToEnd.Tests.Daemon;
using Milter.TestSupport;

namespace EndToEnd.Tests.Policy;

/// <summary>Greylisting with a 2 s delay and the <c>X-Greylist</c> header as it is by default.</summary>
public sealed class XGreylistFixture : PolicyFixture
{
    protected override DaemonConfig Config(string sandbox) => new()
    {
        Relay = "{ allow_clients: [127.0.0.1/32] }",
        Greylist = "{ enabled: true, delay: 2s }",
    };
}

/// <summary>The same with <c>greylist.add_header: false</c>.</summary>
public sealed class NoXGreylistFixture : PolicyFixture
{
    protected override DaemonConfig Config(string sandbox) => new()
    {
        Relay = "{ allow_clients: [127.0.0.1/32] }",
        Greylist = "{ enabled: true, delay: 2s, add_header: false }",
    };
}

/// <summary>What a message that waited carries into the queue of a real sendmail.</summary>
internal static class XGreylist
{
    /// <summary>Our header: the wait in whole seconds, this build, sendmail's {j} and an RFC 5322 date.</summary>
    public static readonly Regex Delayed = new(
        @"^delayed (?<n>[0-9]+) seconds by milterhost-[0-9]+\.[0-9]+\.[0-9]+ at mx\.example\.com; (Mon|Tue|Wed|Thu|Fri|Sat|Sun), [0-9]{2} [A-Z][a-z]{2} [0-9]{4} [0-9]{2}:[0-9]{2}:[0-9]{2} [+-][0-9]{4}$");

    /// <summary>First attempt deferred, the retry after the delay accepted: the queued retry.</summary>
    public static async Task<QueuedMessage> WaitedAsync(PolicyFixture mx, string client, string sender, params string[] headers)
    {
        var first = await SendAsync(mx, client, sender, headers);
        Assert.Equal("451 4.7.1 Greylisted, please retry in 2 seconds", first.ReplyTo("DATA")!.Text);
        await Task.Delay(GreylistWait.PastDelay);
        var retry = await SendAsync(mx, client, sender, headers);
        Assert.NotNull(retry.QueueId);
        return mx.Sendmail.ReadQueuedMessage(retry.QueueId!);
    }

    public static Task<SwaksResult> SendAsync(PolicyFixture mx, string client, string sender, params string[] headers) =>
        Swaks.RunAsync(new SwaksRequest
        {
            Port = mx.Sendmail.Port, LocalInterface = client, From = sender, To = ["alice@example.com"],
            Helo = "client.outside.example", Headers = ["Subject: waited", .. headers],
        });

    /// <summary>The values of the X-Greylist headers, unfolded.</summary>
    public static IReadOnlyList<string> Values(QueuedMessage message) =>
        [.. message.HeaderValues("X-Greylist").Select(v => Regex.Replace(v, @"\s*\n\s*", " ").Trim())];
}

/// <summary>
/// <c>X-Greylist</c> through a real sendmail and the real milterhost binary: a message that waited
/// carries exactly one, ours, also when the client sent a forged one.
/// </summary>
public sealed class XGreylistHeaderTests(XGreylistFixture mx) : IClassFixture<XGreylistFixture>
{
    [Fact]
    public async Task A_message_that_waited_carries_exactly_one_x_greylist_naming_its_delay()
    {
        var message = await XGreylist.WaitedAsync(mx, "127.0.21.5", "news@sender.example");

        var value = Assert.Single(XGreylist.Values(message));
        var match = XGreylist.Delayed.Match(value);
        Assert.True(match.Success, value);
        Assert.InRange(int.Parse(match.Groups["n"].Value, System.Globalization.CultureInfo.InvariantCulture), 2, 30);
    }

    [Fact]
    public async Task A_forged_x_greylist_from_the_client_is_replaced_by_ours()
    {
        var message = await XGreylist.WaitedAsync(mx, "127.0.22.5", "news@sender.example",
            "X-Greylist: delayed 1 seconds by milterhost-0.1.0 at mx.example.com; Sat, 05 Dec 2026 14:09:07 +0000");

        var value = Assert.Single(XGreylist.Values(message));
        Assert.Matches(XGreylist.Delayed, value);
        Assert.DoesNotContain("delayed 1 seconds", value, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_message_that_did_not_wait_carries_none_and_loses_a_forged_one()
    {
        await XGreylist.WaitedAsync(mx, "127.0.23.5", "news@sender.example");

        var later = await XGreylist.SendAsync(mx, "127.0.23.5", "news@sender.example", "X-Greylist: delayed 300 seconds by a forger");

        Assert.Empty(XGreylist.Values(mx.Sendmail.ReadQueuedMessage(later.QueueId!)));
    }
}

/// <summary><c>greylist.add_header: false</c> through a real sendmail: a message that waited carries no X-Greylist.</summary>
public sealed class NoXGreylistHeaderTests(NoXGreylistFixture mx) : IClassFixture<NoXGreylistFixture>
{
    [Fact]
    public async Task A_message_that_waited_carries_no_x_greylist()
    {
        var message = await XGreylist.WaitedAsync(mx, "127.0.24.5", "news@sender.example");

        Assert.Empty(XGreylist.Values(message));
        Assert.Equal("waited", message.Header("Subject"));
    }
}
