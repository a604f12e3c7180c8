using Milter.Filters;
using Milter.Filters.Context;
using Milter.Protocol.Negotiation;
using Milter.Protocol.Replies;

namespace Milter.Filters.Tests.Support;

/// <summary>
/// A filter for chain tests: answers each stage from a table (Continue when absent), answers RCPT
/// per recipient, throws where told, and writes down every call it gets.
/// </summary>
public sealed class ScriptedFilter(string name, MilterStages stages) : IMilterFilter
{
    private readonly Dictionary<string, Verdict> _verdicts = new(StringComparer.Ordinal);
    private readonly Dictionary<string, Verdict> _rcpt = new(StringComparer.OrdinalIgnoreCase);
    private readonly HashSet<string> _throwAt = new(StringComparer.Ordinal);

    public string Name => name;

    public FilterNeeds Needs { get; init; } = new(stages, new Dictionary<MacroStage, IReadOnlyList<string>>());

    /// <summary>Calls received, as <c>stage</c> or <c>rcpt:addr</c>.</summary>
    public List<string> Calls { get; } = [];

    public ScriptedFilter Answer(string stage, Verdict verdict)
    {
        _verdicts[stage] = verdict;
        return this;
    }

    public ScriptedFilter AnswerRcpt(string address, Verdict verdict)
    {
        _rcpt[address] = verdict;
        return this;
    }

    public ScriptedFilter ThrowAt(string stage)
    {
        _throwAt.Add(stage);
        return this;
    }

    public ValueTask<Verdict> OnConnectAsync(SessionContext session, CancellationToken cancellationToken) => Run(DecisionStage.Connect);
    public ValueTask<Verdict> OnHeloAsync(SessionContext session, CancellationToken cancellationToken) => Run(DecisionStage.Helo);
    public ValueTask<Verdict> OnMailAsync(SessionContext session, CancellationToken cancellationToken) => Run(DecisionStage.Mail);

    public ValueTask<Verdict> OnRcptAsync(SessionContext session, RecipientContext recipient, CancellationToken cancellationToken)
    {
        Calls.Add($"rcpt:{recipient.Address}");
        if (_throwAt.Contains(DecisionStage.Rcpt))
            throw new InvalidOperationException($"{name} broke at rcpt");
        return ValueTask.FromResult(_rcpt.TryGetValue(recipient.Address, out var v) ? v : _verdicts.GetValueOrDefault(DecisionStage.Rcpt));
    }

    public ValueTask<Verdict> OnDataAsync(SessionContext session, CancellationToken cancellationToken) => Run(DecisionStage.Data);
    public ValueTask<Verdict> OnHeaderAsync(SessionContext session, string headerName, string value, CancellationToken cancellationToken) => Run(DecisionStage.Header);
    public ValueTask<Verdict> OnEndOfHeadersAsync(SessionContext session, CancellationToken cancellationToken) => Run(DecisionStage.EndOfHeaders);
    public ValueTask<Verdict> OnEndOfMessageAsync(SessionContext session, CancellationToken cancellationToken) => Run(DecisionStage.EndOfMessage);

    public ValueTask OnAbortAsync(SessionContext session, CancellationToken cancellationToken)
    {
        Calls.Add(DecisionStage.Abort);
        return _throwAt.Contains(DecisionStage.Abort) ? throw new InvalidOperationException($"{name} broke at abort") : default;
    }

    public ValueTask OnCloseAsync(SessionContext session, CancellationToken cancellationToken)
    {
        Calls.Add(DecisionStage.Close);
        return default;
    }

    private ValueTask<Verdict> Run(string stage)
    {
        Calls.Add(stage);
        if (_throwAt.Contains(stage))
            throw new InvalidOperationException($"{name} broke at {stage}");
        return ValueTask.FromResult(_verdicts.GetValueOrDefault(stage));
    }
}
