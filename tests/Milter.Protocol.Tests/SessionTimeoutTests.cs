using Microsoft.Extensions.Logging;
using Milter.Protocol.Client;
using Milter.Protocol.Commands;
using Milter.Protocol.Replies;
using Milter.Protocol.Session;
using Milter.Protocol.Tests.Support;
using Milter.Protocol.Wire;

namespace Milter.Protocol.Tests;

/// <summary>Slow and stuck handlers, on a fake clock that moves only when a timer is waiting.</summary>
public sealed class SessionTimeoutTests
{
    private const string FailureText = "451 4.3.0 Temporary local problem, please try again later";

    private static readonly SessionOptions Options = new()
    {
        Limits = new()
        {
            StageTimeout = TimeSpan.FromSeconds(20),
            ProgressInterval = TimeSpan.FromSeconds(5),
            CancelGrace = TimeSpan.FromSeconds(2),
        },
    };

    private static async Task OpenMessage(MilterClient mta, string queueId = "Q1")
    {
        await mta.NegotiateAsync();
        await mta.ConnectAsync("client.example", ConnectFamily.Inet, 4321, "192.0.2.7");
        await mta.SendMacrosAsync('M', ("i", queueId));
        await mta.MailAsync("<a@remote.example>");
        await mta.RcptAsync("<bob@example.com>");
        await mta.DataAsync();
    }

    private static async Task<Verdict> WaitHonouringCancellation(CancellationToken ct, TaskCompletionSource cancelled)
    {
        try
        {
            await Task.Delay(Timeout.InfiniteTimeSpan, ct);
        }
        catch (OperationCanceledException)
        {
            cancelled.TrySetResult();
            throw;
        }
        return Verdict.Accept;
    }

    [Fact]
    public async Task A_slow_end_of_message_gets_PROGRESS_every_interval_then_the_failure_verdict_at_the_stage_timeout()
    {
        var time = new ObservableTimeProvider();
        var cancelled = new TaskCompletionSource();
        var handler = new ScriptedHandler { Script = c => c.Stage == "EOM" && c.Context.QueueId == "SLOW" ? new(WaitHonouringCancellation(c.Token, cancelled)) : default };
        await using var s = PipeSession.Start(handler, Options, time, PipeSession.Threaded);
        await OpenMessage(s.Client, "SLOW");

        await s.SendAsync(Bytes.Bare('E'));
        for (var i = 1; i <= 3; i++)
        {
            Assert.Equal(TimeSpan.FromSeconds(5), await time.NextTimerAsync());
            time.Advance(TimeSpan.FromSeconds(5));
            var frame = await s.Client.TryReadFrameAsync().WaitAsync(PipeSession.HangLimit);
            Assert.Equal((byte)'p', frame!.Value.Code);
        }
        Assert.False(cancelled.Task.IsCompleted);
        Assert.Equal(TimeSpan.FromSeconds(5), await time.NextTimerAsync());
        time.Advance(TimeSpan.FromSeconds(5));

        var verdict = await s.Client.TryReadFrameAsync().WaitAsync(PipeSession.HangLimit);
        Assert.Equal((byte)'y', verdict!.Value.Code);
        Assert.Equal(FailureText + "\0", System.Text.Encoding.ASCII.GetString(verdict.Value.Payload));
        Assert.True(cancelled.Task.IsCompleted, "the handler's token was cancelled");
        Assert.Equal(TimeSpan.FromSeconds(20), time.GetUtcNow() - time.Fake.Start);
        var timedOut = Assert.Single(s.Logger.AtLeast(LogLevel.Warning));
        Assert.Equal(1005, timedOut.EventId.Id);
        Assert.Contains("EOM", timedOut.Message, StringComparison.Ordinal);

        // The connection goes on: the next message is answered as usual.
        await s.Client.SendMacrosAsync('M', ("i", "FAST"));
        await OpenMessage2(s.Client);
        Assert.Equal(ReplyCode.Continue, (await s.Client.EndOfMessageAsync()).Code);
    }

    [Fact]
    public async Task An_end_of_message_answered_per_on_error_sends_none_of_the_changes_the_handler_had_begun()
    {
        var time = new ObservableTimeProvider();
        var cancelled = new TaskCompletionSource();
        var handler = new ScriptedHandler
        {
            Script = c =>
            {
                if (c.Stage != "EOM")
                    return default;
                // Half done: one header added, the other change never made.
                c.Modifier!.AddHeader("X-Half", "made");
                return c.Context.QueueId == "SLOW" ? new(WaitHonouringCancellation(c.Token, cancelled)) : throw new InvalidOperationException("store down");
            },
        };
        await using var s = PipeSession.Start(handler, Options with { FailureVerdict = Verdict.Continue }, time, PipeSession.Threaded);
        await OpenMessage(s.Client, "SLOW");

        var slow = s.Client.EndOfMessageAsync();
        while (!slow.IsCompleted)
        {
            var next = time.NextTimerAsync();
            if (await Task.WhenAny(next, slow) == slow)
                break;
            // The cancel grace starts once the stage has timed out and the handler's token is cancelled;
            // the handler honours it, on the pool, in real time. Moving the clock past the grace before
            // it has would make it a stuck handler and close the connection.
            if (await next == Options.Limits.CancelGrace)
                await cancelled.Task.WaitAsync(PipeSession.HangLimit);
            else
                time.Advance(TimeSpan.FromSeconds(5));
        }
        var timedOut = await slow;
        await s.Client.SendMacrosAsync('M', ("i", "FAILS"));
        await OpenMessage2(s.Client);
        var failed = await s.Client.EndOfMessageAsync();

        Assert.True(cancelled.Task.IsCompleted);
        Assert.Equal((ReplyCode.Continue, 0), (timedOut.Code, timedOut.Modifications.Count));
        Assert.Equal((ReplyCode.Continue, 0), (failed.Code, failed.Modifications.Count));
    }

    private static async Task OpenMessage2(MilterClient mta)
    {
        await mta.MailAsync("<a@remote.example>");
        await mta.RcptAsync("<bob@example.com>");
    }

    [Fact]
    public async Task A_handler_that_answers_after_two_intervals_is_heard_after_two_PROGRESS()
    {
        var time = new ObservableTimeProvider();
        var release = new TaskCompletionSource<Verdict>();
        var handler = new ScriptedHandler { Script = c => c.Stage == "EOM" ? new(release.Task.WaitAsync(c.Token)) : default };
        await using var s = PipeSession.Start(handler, Options, time, PipeSession.Threaded);
        await OpenMessage(s.Client);

        var eom = s.Client.EndOfMessageAsync();
        for (var i = 0; i < 2; i++)
            time.Advance(await time.NextTimerAsync());
        await time.NextTimerAsync();
        release.SetResult(Verdict.Discard);
        var response = await eom.WaitAsync(PipeSession.HangLimit);

        Assert.Equal(2, response.ProgressCount);
        Assert.Equal(ReplyCode.Discard, response.Code);
        Assert.Empty(s.Logger.AtLeast(LogLevel.Warning));
    }

    [Fact]
    public async Task A_slow_RCPT_gets_no_PROGRESS_and_the_failure_verdict_at_the_stage_timeout()
    {
        var time = new ObservableTimeProvider();
        var cancelled = new TaskCompletionSource();
        var handler = new ScriptedHandler { Script = c => c.Stage == "RCPT" ? new(WaitHonouringCancellation(c.Token, cancelled)) : default };
        await using var s = PipeSession.Start(handler, Options, time, PipeSession.Threaded);
        await s.Client.NegotiateAsync();
        await s.Client.ConnectAsync("client.example", ConnectFamily.Inet, 4321, "192.0.2.7");
        await s.Client.MailAsync("<a@remote.example>");

        var rcpt = s.Client.RcptAsync("<bob@example.com>");
        Assert.Equal(TimeSpan.FromSeconds(20), await time.NextTimerAsync());
        time.Advance(TimeSpan.FromSeconds(19));
        await Task.Delay(20);
        Assert.False(rcpt.IsCompleted);
        time.Advance(TimeSpan.FromSeconds(1));
        var response = await rcpt.WaitAsync(PipeSession.HangLimit);

        Assert.Equal(0, response.ProgressCount);
        Assert.Equal(FailureText, response.ToString());
        Assert.True(cancelled.Task.IsCompleted);
        Assert.False(s.Run.IsCompleted);
    }

    [Fact]
    public async Task A_handler_that_ignores_cancellation_is_answered_per_on_error_then_the_connection_closes_after_the_grace_period()
    {
        var time = new ObservableTimeProvider();
        var never = new TaskCompletionSource<Verdict>();
        var handler = new ScriptedHandler { Script = c => c.Stage == "EOM" ? new(never.Task) : default };
        await using var s = PipeSession.Start(handler, Options, time, PipeSession.Threaded);
        await OpenMessage(s.Client);

        var eom = s.Client.EndOfMessageAsync();
        var moved = await time.DriveUntilAsync(s.Run);

        Assert.Equal(FailureText, (await eom.WaitAsync(PipeSession.HangLimit)).ToString());
        Assert.Null(await s.Client.TryReadFrameAsync().WaitAsync(PipeSession.HangLimit));
        Assert.Equal(TimeSpan.FromSeconds(22), moved);
        Assert.True(s.Run.IsCompletedSuccessfully);
        Assert.Equal([1005, 1006], s.Logger.AtLeast(LogLevel.Warning).Select(e => e.EventId.Id));
        never.SetResult(Verdict.Accept);
    }
}
