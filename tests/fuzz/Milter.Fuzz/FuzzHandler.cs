using System.Buffers;
using Milter.Protocol.Commands;
using Milter.Protocol.Replies;
using Milter.Protocol.Session;

namespace Milter.Fuzz;

/// <summary>
/// A filter whose answers follow the input, so the fuzzer reaches every reply path: refusals with
/// reply texts taken from what the MTA sent, SKIP, and at end of message every modification built
/// from the message's own headers, sender and recipients (as real filters echo what they saw).
/// </summary>
internal sealed class FuzzHandler : IMilterHandler
{
    private string _sender = "";
    private string _lastRecipient = "";
    private HeaderCommand? _lastHeader;
    private int _bodyChunks;

    public ValueTask<Verdict> OnConnectAsync(ConnectCommand command, MilterConnectionContext context, CancellationToken cancellationToken)
    {
        _ = command.IPAddress;
        _ = context.Macros["{client_addr}"];
        return ValueTask.FromResult(command.HostName.StartsWith('R') ? Verdict.Reject(new SmtpReply(550, "5.7.1", command.HostName)) : Verdict.Continue);
    }

    public ValueTask<Verdict> OnMailAsync(MailCommand command, MilterConnectionContext context, CancellationToken cancellationToken)
    {
        _sender = command.Address;
        _ = context.Macros["i"];
        return ValueTask.FromResult(Verdict.Continue);
    }

    public ValueTask<Verdict> OnRcptAsync(RcptCommand command, MilterConnectionContext context, CancellationToken cancellationToken)
    {
        _lastRecipient = command.Address;
        var verdict = command.Arguments.Count switch
        {
            0 => Verdict.Continue,
            1 => Verdict.Tempfail(new SmtpReply(451, "4.7.1", "Greylisted " + command.Address)),
            _ => Verdict.Reject(new SmtpReply(550, null, command.Arguments)),
        };
        return ValueTask.FromResult(verdict);
    }

    public ValueTask<Verdict> OnHeaderAsync(HeaderCommand command, MilterConnectionContext context, CancellationToken cancellationToken)
    {
        _lastHeader = command;
        return ValueTask.FromResult(command.Name == "X-Discard" ? Verdict.Discard : Verdict.Continue);
    }

    public ValueTask<Verdict> OnBodyAsync(ReadOnlySequence<byte> chunk, MilterConnectionContext context, CancellationToken cancellationToken) =>
        ValueTask.FromResult(++_bodyChunks > 2 ? Verdict.SkipBody : Verdict.Continue);

    public ValueTask<Verdict> OnEndOfMessageAsync(IMessageModifier modifier, MilterConnectionContext context, CancellationToken cancellationToken)
    {
        if (_lastHeader is { } header)
        {
            modifier.AddHeader(header.Name, header.Value);
            modifier.InsertHeader(0, "X-Seen", header.Value);
            modifier.ChangeHeader(1, header.Name, "");
        }
        modifier.ChangeFrom(_sender.Length == 0 ? "<>" : _sender);
        modifier.AddRecipient(_lastRecipient.Length == 0 ? "postmaster" : _lastRecipient, "NOTIFY=NEVER");
        modifier.DeleteRecipient(_lastRecipient.Length == 0 ? "postmaster" : _lastRecipient);
        modifier.ReplaceBody("replaced\r\n"u8);
        modifier.Quarantine("fuzz " + _bodyChunks);
        _bodyChunks = 0;
        return ValueTask.FromResult(Verdict.Accept);
    }

    public ValueTask<Verdict> OnUnknownAsync(UnknownCommand command, MilterConnectionContext context, CancellationToken cancellationToken) =>
        ValueTask.FromResult(Verdict.Reject(new SmtpReply(500, "5.5.1", command.Line)));

    public ValueTask OnAbortAsync(MilterConnectionContext context, CancellationToken cancellationToken)
    {
        _bodyChunks = 0;
        return ValueTask.CompletedTask;
    }
}
