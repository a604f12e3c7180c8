using System.Buffers;
using Milter.Protocol.Commands;
using Milter.Protocol.Negotiation;
using Milter.Protocol.Replies;
using Milter.Protocol.Session;

namespace Milter.Protocol.Tests.Support;

/// <summary>What the handler saw at one stage: the decoded command and the macros visible then.</summary>
public sealed record Seen(string Stage, object? Command, IReadOnlyDictionary<string, string> Macros);

/// <summary>One call into the handler, as a script sees it.</summary>
public sealed record StageCall(string Stage, object? Command, MilterConnectionContext Context, IMessageModifier? Modifier, CancellationToken Token);

/// <summary>
/// A handler whose answers come from <see cref="Script"/> (Continue when it returns null). It records
/// every stage with the macros visible then.
/// </summary>
public sealed class ScriptedHandler : IMilterHandler
{
    private readonly List<Seen> _seen = [];

    public HandlerRequirements Requirements { get; init; } = HandlerRequirements.Everything with { Actions = ActionFlags.All };

    /// <summary>Decides each stage; ABORT and CLOSE results are ignored, but a throw is seen by the session.</summary>
    public Func<StageCall, ValueTask<Verdict>>? Script { get; init; }

    public IReadOnlyList<Seen> Seen
    {
        get
        {
            lock (_seen) return _seen.ToArray();
        }
    }

    public IEnumerable<Seen> At(string stage) => Seen.Where(s => s.Stage == stage);

    public IEnumerable<string> Stages => Seen.Select(s => s.Stage);

    public ValueTask<Verdict> OnConnectAsync(ConnectCommand command, MilterConnectionContext context, CancellationToken cancellationToken) =>
        Call("CONNECT", command, context, null, cancellationToken);

    public ValueTask<Verdict> OnHeloAsync(HeloCommand command, MilterConnectionContext context, CancellationToken cancellationToken) =>
        Call("HELO", command, context, null, cancellationToken);

    public ValueTask<Verdict> OnMailAsync(MailCommand command, MilterConnectionContext context, CancellationToken cancellationToken) =>
        Call("MAIL", command, context, null, cancellationToken);

    public ValueTask<Verdict> OnRcptAsync(RcptCommand command, MilterConnectionContext context, CancellationToken cancellationToken) =>
        Call("RCPT", command, context, null, cancellationToken);

    public ValueTask<Verdict> OnDataAsync(MilterConnectionContext context, CancellationToken cancellationToken) =>
        Call("DATA", null, context, null, cancellationToken);

    public ValueTask<Verdict> OnHeaderAsync(HeaderCommand command, MilterConnectionContext context, CancellationToken cancellationToken) =>
        Call("HEADER", command, context, null, cancellationToken);

    public ValueTask<Verdict> OnEndOfHeadersAsync(MilterConnectionContext context, CancellationToken cancellationToken) =>
        Call("EOH", null, context, null, cancellationToken);

    public ValueTask<Verdict> OnBodyAsync(ReadOnlySequence<byte> chunk, MilterConnectionContext context, CancellationToken cancellationToken) =>
        Call("BODY", chunk.ToArray(), context, null, cancellationToken);

    public ValueTask<Verdict> OnEndOfMessageAsync(IMessageModifier modifier, MilterConnectionContext context, CancellationToken cancellationToken) =>
        Call("EOM", null, context, modifier, cancellationToken);

    public ValueTask<Verdict> OnUnknownAsync(UnknownCommand command, MilterConnectionContext context, CancellationToken cancellationToken) =>
        Call("UNKNOWN", command, context, null, cancellationToken);

    public async ValueTask OnAbortAsync(MilterConnectionContext context, CancellationToken cancellationToken) =>
        await Call("ABORT", null, context, null, cancellationToken);

    public async ValueTask OnCloseAsync(MilterConnectionContext context, CancellationToken cancellationToken) =>
        await Call("CLOSE", null, context, null, cancellationToken);

    private ValueTask<Verdict> Call(string stage, object? command, MilterConnectionContext context, IMessageModifier? modifier, CancellationToken ct)
    {
        lock (_seen) _seen.Add(new Seen(stage, command, context.Macros.Snapshot()));
        return Script?.Invoke(new StageCall(stage, command, context, modifier, ct)) ?? default;
    }
}
