using System.Buffers;
using Milter.Protocol.Commands;
using Milter.Protocol.Negotiation;
using Milter.Protocol.Replies;
using Milter.Protocol.Session;

namespace Milter.Protocol.Tests.Support;

/// <summary>What the filter saw at one stage: the decoded command and the macros visible then.</summary>
public sealed record Seen(string Stage, object? Command, IReadOnlyDictionary<string, string> Macros);

/// <summary>
/// The policy of the pymilter filter that answered in shared/testdata/captures, so replaying a capture
/// through a session must give the captured replies byte for byte. It records every stage it sees.
/// </summary>
public sealed class ReferenceFilter(bool greylist = false) : IMilterHandler
{
    public static readonly SmtpReply AccessDenied = new(550, "5.7.1", "Access denied");
    public static readonly SmtpReply Greylisted = new(451, "4.7.1", "Greylisted, please try again later");
    public static readonly SmtpReply UserUnknown = new(550, "5.1.1", "User unknown");
    public static readonly SmtpReply RelayingDenied = new(550, "5.7.1", "Relaying denied");
    public static readonly SmtpReply ContentRejected = new(550, "5.7.1", "Message content rejected");

    private readonly List<Seen> _seen = [];

    /// <summary>The captures that greylist at RCPT.</summary>
    public static bool Greylists(string capture) => capture is "greylisted" or "postfix-greylisted";

    /// <summary>Every stage, every reply, every action: the negotiation answer is 0x1ff / 0x400 as captured.</summary>
    public HandlerRequirements Requirements { get; } = HandlerRequirements.Everything with { Actions = ActionFlags.All };

    public IReadOnlyList<Seen> Seen => _seen;

    public IEnumerable<Seen> At(string stage) => _seen.Where(s => s.Stage == stage);

    public ValueTask<Verdict> OnConnectAsync(ConnectCommand command, MilterConnectionContext context, CancellationToken cancellationToken)
    {
        Record("CONNECT", command, context);
        return new(command.Address == "127.0.0.66" ? Verdict.Reject(AccessDenied) : Verdict.Continue);
    }

    public ValueTask<Verdict> OnHeloAsync(HeloCommand command, MilterConnectionContext context, CancellationToken cancellationToken)
    {
        Record("HELO", command, context);
        return default;
    }

    public ValueTask<Verdict> OnMailAsync(MailCommand command, MilterConnectionContext context, CancellationToken cancellationToken)
    {
        Record("MAIL", command, context);
        return default;
    }

    public ValueTask<Verdict> OnRcptAsync(RcptCommand command, MilterConnectionContext context, CancellationToken cancellationToken)
    {
        Record("RCPT", command, context);
        if (greylist)
            return new(Verdict.Tempfail(Greylisted));
        var address = command.Address;
        var at = address.LastIndexOf('@');
        if (!address[(at + 1)..].Equals("example.com", StringComparison.OrdinalIgnoreCase))
            return new(Verdict.Reject(RelayingDenied));
        if (address[..Math.Max(at, 0)] == "nobody")
            return new(Verdict.Reject(UserUnknown));
        return default;
    }

    public ValueTask<Verdict> OnDataAsync(MilterConnectionContext context, CancellationToken cancellationToken)
    {
        Record("DATA", null, context);
        return default;
    }

    public ValueTask<Verdict> OnHeaderAsync(HeaderCommand command, MilterConnectionContext context, CancellationToken cancellationToken)
    {
        Record("HEADER", command, context);
        var banned = command.Name.Equals("Subject", StringComparison.OrdinalIgnoreCase)
            && command.Value.Contains("Cheap meds", StringComparison.OrdinalIgnoreCase);
        return new(banned ? Verdict.Reject(ContentRejected) : Verdict.Continue);
    }

    public ValueTask<Verdict> OnEndOfHeadersAsync(MilterConnectionContext context, CancellationToken cancellationToken)
    {
        Record("EOH", null, context);
        return default;
    }

    public ValueTask<Verdict> OnBodyAsync(ReadOnlySequence<byte> chunk, MilterConnectionContext context, CancellationToken cancellationToken)
    {
        Record("BODY", chunk.ToArray(), context);
        return default;
    }

    public ValueTask<Verdict> OnEndOfMessageAsync(IMessageModifier modifier, MilterConnectionContext context, CancellationToken cancellationToken)
    {
        Record("EOM", null, context);
        modifier.AddHeader("X-Standin", "checked");
        return new(Verdict.Accept);
    }

    public ValueTask<Verdict> OnUnknownAsync(UnknownCommand command, MilterConnectionContext context, CancellationToken cancellationToken)
    {
        Record("UNKNOWN", command, context);
        return default;
    }

    public ValueTask OnAbortAsync(MilterConnectionContext context, CancellationToken cancellationToken)
    {
        Record("ABORT", null, context);
        return default;
    }

    public ValueTask OnCloseAsync(MilterConnectionContext context, CancellationToken cancellationToken)
    {
        Record("CLOSE", null, context);
        return default;
    }

    private void Record(string stage, object? command, MilterConnectionContext context) =>
        _seen.Add(new Seen(stage, command, context.Macros.Snapshot()));
}
