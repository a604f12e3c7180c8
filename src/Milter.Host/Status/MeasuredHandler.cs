using System.Buffers;
using Milter.Filters;
using Milter.Protocol.Commands;
using Milter.Protocol.Negotiation;
using Milter.Protocol.Replies;
using Milter.Protocol.Session;

namespace MilterHost.Status;

/// <summary>
/// Wraps a connection's handler to time each stage, count sessions and messages, and report a
/// message that reached the end with no decision (every filter let it through) to the status feed.
/// </summary>
internal sealed class MeasuredHandler(IMilterHandler inner, StatusFeed feed, TimeProvider time) : IMilterHandler
{
    public HandlerRequirements Requirements => inner.Requirements;

    public ValueTask<Verdict> OnConnectAsync(ConnectCommand command, MilterConnectionContext context, CancellationToken cancellationToken)
    {
        feed.Metrics.OnSession();
        return Timed(DecisionStage.Connect, time.GetTimestamp(), inner.OnConnectAsync(command, context, cancellationToken));
    }

    public ValueTask<Verdict> OnHeloAsync(HeloCommand command, MilterConnectionContext context, CancellationToken cancellationToken) =>
        Timed(DecisionStage.Helo, time.GetTimestamp(), inner.OnHeloAsync(command, context, cancellationToken));

    public ValueTask<Verdict> OnMailAsync(MailCommand command, MilterConnectionContext context, CancellationToken cancellationToken)
    {
        feed.Metrics.OnMessage();
        return Timed(DecisionStage.Mail, time.GetTimestamp(), inner.OnMailAsync(command, context, cancellationToken));
    }

    public ValueTask<Verdict> OnRcptAsync(RcptCommand command, MilterConnectionContext context, CancellationToken cancellationToken) =>
        Timed(DecisionStage.Rcpt, time.GetTimestamp(), inner.OnRcptAsync(command, context, cancellationToken));

    public ValueTask<Verdict> OnDataAsync(MilterConnectionContext context, CancellationToken cancellationToken) =>
        Timed(DecisionStage.Data, time.GetTimestamp(), inner.OnDataAsync(context, cancellationToken));

    public ValueTask<Verdict> OnHeaderAsync(HeaderCommand command, MilterConnectionContext context, CancellationToken cancellationToken) =>
        Timed(DecisionStage.Header, time.GetTimestamp(), inner.OnHeaderAsync(command, context, cancellationToken));

    public ValueTask<Verdict> OnEndOfHeadersAsync(MilterConnectionContext context, CancellationToken cancellationToken) =>
        Timed(DecisionStage.EndOfHeaders, time.GetTimestamp(), inner.OnEndOfHeadersAsync(context, cancellationToken));

    public ValueTask<Verdict> OnBodyAsync(ReadOnlySequence<byte> chunk, MilterConnectionContext context, CancellationToken cancellationToken) =>
        Timed(DecisionStage.Body, time.GetTimestamp(), inner.OnBodyAsync(chunk, context, cancellationToken));

    public async ValueTask<Verdict> OnEndOfMessageAsync(IMessageModifier modifier, MilterConnectionContext context, CancellationToken cancellationToken)
    {
        var verdict = await Timed(DecisionStage.EndOfMessage, time.GetTimestamp(), inner.OnEndOfMessageAsync(modifier, context, cancellationToken)).ConfigureAwait(false);
        // A final verdict here went through the decision sink already; Continue means nobody objected.
        if (verdict.Kind == VerdictKind.Continue && inner is ChainHandler chain)
            feed.OnAccepted(chain.Session);
        return verdict;
    }

    public ValueTask<Verdict> OnUnknownAsync(UnknownCommand command, MilterConnectionContext context, CancellationToken cancellationToken) =>
        inner.OnUnknownAsync(command, context, cancellationToken);

    public async ValueTask OnAbortAsync(MilterConnectionContext context, CancellationToken cancellationToken)
    {
        var started = time.GetTimestamp();
        await inner.OnAbortAsync(context, cancellationToken).ConfigureAwait(false);
        feed.Metrics.OnStage(DecisionStage.Abort, time.GetElapsedTime(started));
    }

    public async ValueTask OnCloseAsync(MilterConnectionContext context, CancellationToken cancellationToken)
    {
        var started = time.GetTimestamp();
        await inner.OnCloseAsync(context, cancellationToken).ConfigureAwait(false);
        feed.Metrics.OnStage(DecisionStage.Close, time.GetElapsedTime(started));
    }

    // The started time is taken by the caller before the inner call; a synchronous answer (most are) is recorded without an async frame.
    private ValueTask<Verdict> Timed(string stage, long started, ValueTask<Verdict> pending)
    {
        if (!pending.IsCompletedSuccessfully)
            return TimedAsync(stage, started, pending);
        feed.Metrics.OnStage(stage, time.GetElapsedTime(started));
        return pending;
    }

    private async ValueTask<Verdict> TimedAsync(string stage, long started, ValueTask<Verdict> pending)
    {
        var verdict = await pending.ConfigureAwait(false);
        feed.Metrics.OnStage(stage, time.GetElapsedTime(started));
        return verdict;
    }
}
