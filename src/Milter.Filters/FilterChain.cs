using Microsoft.Extensions.Logging;
using Milter.Filters.Configuration;
using Milter.Filters.Context;
using Milter.Filters.Logging;
using Milter.Protocol.Negotiation;
using Milter.Protocol.Replies;
using Milter.Protocol.Session;

namespace Milter.Filters;

/// <summary>
/// Runs the filters, in their configured order, one stage at a time: the first final verdict wins
/// and is returned as a <see cref="Decision"/>; null means every filter continued. A filter is
/// called only for the stages its <see cref="FilterNeeds"/> names (ABORT and close reach all).
/// A verdict at RCPT concerns that recipient only. A filter that throws is logged with its name
/// and the client, and answered per <see cref="OnError"/>: a 451 4.3.0 for that stage (that
/// recipient at RCPT), or as if it had continued (always so at a stage the filter only observes,
/// where the MTA awaits no reply). A filter in monitor mode (<see cref="FilterMode.Monitor"/>) is
/// run the same way, but its final verdict (an <c>on_error</c> answer included) is handed to the
/// stage's <c>notApplied</c> sink as a decision with <see cref="Decision.Applied"/> false, and the
/// next filter runs as if it had continued. Immutable: one chain serves every connection
/// opened while its configuration is current.
/// </summary>
public sealed class FilterChain
{
    /// <summary>The rule id of a decision made because a filter failed.</summary>
    public const string OnErrorRule = FailureReply.Rule;

    private readonly IMilterFilter[] _filters;
    private readonly FailureBurst[] _bursts;
    private readonly bool[] _monitored;
    private readonly ILogger _logger;

    /// <param name="time">For the failure bursts: a failing filter is reported in full at most once a minute.</param>
    /// <param name="modes">The mode of each filter by name; a filter it does not name is enforced.</param>
    public FilterChain(IEnumerable<IMilterFilter> filters, OnError onError, ILogger<FilterChain> logger, TimeProvider? time = null,
        IReadOnlyDictionary<string, FilterMode>? modes = null)
    {
        ArgumentNullException.ThrowIfNull(filters);
        ArgumentNullException.ThrowIfNull(logger);
        _filters = [.. filters];
        if (_filters.Any(f => f is null))
            throw new ArgumentException("the filter list contains null", nameof(filters));
        var duplicate = _filters.GroupBy(f => f.Name, StringComparer.Ordinal).FirstOrDefault(g => g.Count() > 1);
        if (duplicate is not null)
            throw new ArgumentException($"two filters are named '{duplicate.Key}'; names key per-session state and log lines", nameof(filters));
        OnError = onError;
        _logger = logger;
        _bursts = [.. _filters.Select(_ => new FailureBurst(time ?? TimeProvider.System, TimeSpan.FromMinutes(1)))];
        _monitored = [.. _filters.Select(f => modes?.GetValueOrDefault(f.Name) == FilterMode.Monitor)];
        Requirements = ChainRequirements.Compute(_filters);
    }

    /// <summary>The filters in the order they run.</summary>
    public IReadOnlyList<IMilterFilter> Filters => _filters;

    public OnError OnError { get; }

    /// <summary>The mode <paramref name="filter"/> runs in here.</summary>
    public FilterMode ModeOf(IMilterFilter filter)
    {
        var i = Array.IndexOf(_filters, filter);
        return i >= 0 && _monitored[i] ? FilterMode.Monitor : FilterMode.Enforce;
    }

    /// <summary>What to negotiate with the MTA: the union of the filters' needs plus what the chain itself reads.</summary>
    public HandlerRequirements Requirements { get; }

    public ValueTask<Decision?> ConnectAsync(SessionContext session, IDecisionSink? notApplied, CancellationToken cancellationToken) =>
        RunAsync(MilterStages.Connect, session, null, 0, notApplied,
            static (f, s, _, ct) => f.OnConnectAsync(s, ct), cancellationToken);

    public ValueTask<Decision?> HeloAsync(SessionContext session, IDecisionSink? notApplied, CancellationToken cancellationToken) =>
        RunAsync(MilterStages.Helo, session, null, 0, notApplied,
            static (f, s, _, ct) => f.OnHeloAsync(s, ct), cancellationToken);

    public ValueTask<Decision?> MailAsync(SessionContext session, IDecisionSink? notApplied, CancellationToken cancellationToken) =>
        RunAsync(MilterStages.Mail, session, null, 0, notApplied,
            static (f, s, _, ct) => f.OnMailAsync(s, ct), cancellationToken);

    public ValueTask<Decision?> RcptAsync(SessionContext session, RecipientContext recipient, IDecisionSink? notApplied, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(recipient);
        return RunAsync(MilterStages.Rcpt, session, recipient.Address, recipient, notApplied,
            static (f, s, r, ct) => f.OnRcptAsync(s, r, ct), cancellationToken);
    }

    public ValueTask<Decision?> DataAsync(SessionContext session, IDecisionSink? notApplied, CancellationToken cancellationToken) =>
        RunAsync(MilterStages.Data, session, null, 0, notApplied,
            static (f, s, _, ct) => f.OnDataAsync(s, ct), cancellationToken);

    public ValueTask<Decision?> HeaderAsync(SessionContext session, string name, string value, IDecisionSink? notApplied, CancellationToken cancellationToken) =>
        RunAsync(MilterStages.Header, session, null, (name, value), notApplied,
            static (f, s, h, ct) => f.OnHeaderAsync(s, h.name, h.value, ct), cancellationToken);

    public ValueTask<Decision?> EndOfHeadersAsync(SessionContext session, IDecisionSink? notApplied, CancellationToken cancellationToken) =>
        RunAsync(MilterStages.EndOfHeaders, session, null, 0, notApplied,
            static (f, s, _, ct) => f.OnEndOfHeadersAsync(s, ct), cancellationToken);

    public ValueTask<Decision?> EndOfMessageAsync(SessionContext session, IDecisionSink? notApplied, CancellationToken cancellationToken) =>
        RunAsync(MilterStages.EndOfMessage, session, null, 0, notApplied,
            static (f, s, _, ct) => f.OnEndOfMessageAsync(s, ct), cancellationToken);

    /// <summary>End of message, where filters may change the message through <paramref name="modifier"/>, each only as its <see cref="FilterNeeds.Actions"/> declares.</summary>
    public ValueTask<Decision?> EndOfMessageAsync(SessionContext session, IMessageModifier modifier, IDecisionSink? notApplied, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(modifier);
        return RunAsync(MilterStages.EndOfMessage, session, null, modifier, notApplied,
            static async (f, s, m, ct) =>
            {
                var declared = new DeclaredModifier(m, f.Needs.Actions, f.Name);
                var verdict = await f.OnEndOfMessageAsync(s, declared, ct).ConfigureAwait(false);
                declared.Commit();
                return verdict;
            }, cancellationToken);
    }

    /// <summary>Tells every filter the message was abandoned; failures are logged, nobody is answered.</summary>
    public ValueTask AbortAsync(SessionContext session, CancellationToken cancellationToken) =>
        NotifyAsync(DecisionStage.Abort, session, static (f, s, ct) => f.OnAbortAsync(s, ct), cancellationToken);

    /// <summary>Tells every filter the SMTP session ended; failures are logged.</summary>
    public ValueTask CloseAsync(SessionContext session, CancellationToken cancellationToken) =>
        NotifyAsync(DecisionStage.Close, session, static (f, s, ct) => f.OnCloseAsync(s, ct), cancellationToken);

    private async ValueTask<Decision?> RunAsync<TArg>(
        MilterStages stage, SessionContext session, string? recipient, TArg arg, IDecisionSink? notApplied,
        Func<IMilterFilter, SessionContext, TArg, CancellationToken, ValueTask<Verdict>> call,
        CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(session);
        var stageName = DecisionStage.Of(stage)!;
        for (var i = 0; i < _filters.Length; i++)
        {
            var filter = _filters[i];
            if ((filter.Needs.Stages & stage) == 0)
                continue;
            Verdict verdict;
            try
            {
                verdict = await call(filter, session, arg, cancellationToken).ConfigureAwait(false);
                if (_bursts[i].OnSuccess(out var failures, out var lasted))
                    _logger.FilterRecovered(filter.Name, failures, lasted.TotalSeconds);
            }
            catch (Exception ex) when (!(ex is OperationCanceledException && cancellationToken.IsCancellationRequested))
            {
                // Where the filter only observes, the MTA is not waiting for an answer: log and go on.
                var answer = OnError == OnError.Tempfail && (filter.Needs.Replies & stage) != 0;
                // One line per burst, not per recipient: a store outage would otherwise flood the maillog.
                if (_bursts[i].OnFailure(out var unreported))
                {
                    if (unreported > 0)
                        _logger.FilterStillFailing(filter.Name, unreported);
                    _logger.FilterFailed(filter.Name, stageName, session.ClientDisplay, session.QueueId, session.Sender,
                        answer ? "tempfail" : "continue", ex);
                }
                if (!answer)
                    continue;
                verdict = FailureReply.Tempfail;
            }
            if (!verdict.IsFinal)
                continue;
            var decision = new Decision(stageName, verdict, filter.Name, verdict.Rule, recipient);
            if (!_monitored[i])
                return decision;
            notApplied?.OnDecision(session, decision with { Applied = false });
        }
        return null;
    }

    private async ValueTask NotifyAsync(string stageName, SessionContext session,
        Func<IMilterFilter, SessionContext, CancellationToken, ValueTask> call, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(session);
        foreach (var filter in _filters)
        {
            try
            {
                await call(filter, session, cancellationToken).ConfigureAwait(false);
            }
            catch (Exception ex) when (!(ex is OperationCanceledException && cancellationToken.IsCancellationRequested))
            {
                _logger.FilterCleanupFailed(filter.Name, stageName, session.ClientDisplay, session.QueueId, ex);
            }
        }
    }
}
