using System.Diagnostics;
using Milter.Protocol.Negotiation;
using Milter.Protocol.Replies;
using Milter.Protocol.Server;
using Milter.Protocol.Session;
using Milter.TestSupport;

namespace EndToEnd.Tests.ProtocolInterop;

/// <summary>
/// A real sendmail whose filter never answers end-of-message. sendmail is told to give up on the
/// milter after 3 s without a packet from it (<c>T=R:3s</c>: a PROGRESS a second leaves 2 s for a
/// tick delayed on a loaded machine) and to tempfail when it does (<c>F=T</c>);
/// the filter's own deadline is 7 s and its <c>on_error</c> is accept. (sendmail 8.17's <c>E:</c> is
/// a cap on the whole end-of-message exchange that PROGRESS does not restart: with <c>E:3s</c> it
/// answers <c>EOM ACK/NAK timeout</c> after 3 s whatever the filter sends; here it is 30 s.)
/// </summary>
public sealed class HangingFilterFixture : LibraryFilterFixture
{
    /// <summary>The filter's deadline for one stage.</summary>
    public static readonly TimeSpan StageTimeout = TimeSpan.FromSeconds(7);

    /// <summary>How often the session sends PROGRESS while the filter works; read per connection.</summary>
    public TimeSpan ProgressInterval { get; set; } = TimeSpan.FromSeconds(1);

    protected override IMilterHandler CreateHandler() => new HangingAtEndOfMessage();

    protected override SessionOptions ServerOptions()
    {
        var options = base.ServerOptions();
        return options with
        {
            Limits = options.Limits with
            {
                StageTimeout = StageTimeout,
                ProgressInterval = ProgressInterval,
                CancelGrace = TimeSpan.FromSeconds(1),
            },
            FailureVerdict = Verdict.Accept,
        };
    }

    protected override SendmailOptions SendmailOptionsFor(string milterSocket) =>
        new() { MilterSocket = milterSocket, MilterFlags = "F=T, T=C:10s;S:10s;R:3s;E:30s" };

    /// <summary>Continues every stage but end-of-message, where it waits until it is cancelled.</summary>
    private sealed class HangingAtEndOfMessage : IMilterHandler
    {
        public HandlerRequirements Requirements { get; } = new()
        {
            Stages = MilterStages.Rcpt | MilterStages.EndOfMessage,
            Replies = MilterStages.Rcpt | MilterStages.EndOfMessage,
        };

        public async ValueTask<Verdict> OnEndOfMessageAsync(IMessageModifier modifier, MilterConnectionContext context, CancellationToken cancellationToken)
        {
            await Task.Delay(Timeout.Infinite, cancellationToken);
            return Verdict.Continue;
        }
    }
}

/// <summary>PROGRESS through a real sendmail: it keeps sendmail waiting past its own timeouts, until the filter's deadline.</summary>
public sealed class HangingFilterTests(HangingFilterFixture fixture) : IClassFixture<HangingFilterFixture>
{
    [Fact]
    public async Task PROGRESS_keeps_sendmail_waiting_until_the_filters_deadline_and_then_on_error_decides()
    {
        // With PROGRESS every second, sendmail's 3 s read timeout never fires: the answer is the filter's
        // own on_error (accept) after its 7 s deadline, and the message is queued.
        fixture.ProgressInterval = TimeSpan.FromSeconds(1);
        var clock = Stopwatch.StartNew();
        var kept = await Swaks.RunAsync(new SwaksRequest { Port = fixture.Sendmail.Port, To = ["alice@example.com"] });
        var keptFor = clock.Elapsed;

        Assert.True(kept.FinalReply!.Text.StartsWith("250 2.0.0", StringComparison.Ordinal), string.Join("\n", fixture.Sendmail.Log.Lines));
        Assert.InRange(keptFor, HangingFilterFixture.StageTimeout - TimeSpan.FromSeconds(0.5), HangingFilterFixture.StageTimeout + TimeSpan.FromSeconds(8));
        Assert.Single(fixture.Sendmail.ReadQueuedMessage(kept.QueueId!).Recipients);

        // The same filter without PROGRESS before its deadline: sendmail's 3 s read timeout fires
        // first and F=T makes it tempfail the message itself.
        fixture.ProgressInterval = TimeSpan.FromMinutes(1);
        clock.Restart();
        var dropped = await Swaks.RunAsync(new SwaksRequest { Port = fixture.Sendmail.Port, To = ["bob@example.com"] });
        var droppedAfter = clock.Elapsed;

        Assert.Equal("451 4.3.2 Please try again later", dropped.FinalReply!.Text);
        Assert.True(droppedAfter < HangingFilterFixture.StageTimeout, $"sendmail waited {droppedAfter.TotalSeconds:0.0} s without PROGRESS");
        await fixture.Sendmail.Log.WaitForLineAsync(l => l.Contains("Milter (mh): timeout before data read, where=eom", StringComparison.Ordinal), TimeSpan.FromSeconds(10));
        Assert.DoesNotContain(fixture.Sendmail.Log.Lines, l => l.Contains(kept.QueueId!, StringComparison.Ordinal) && l.Contains("timeout", StringComparison.Ordinal));
    }
}
