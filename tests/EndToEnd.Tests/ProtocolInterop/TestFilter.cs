using System.Collections.Concurrent;
using Milter.Protocol.Commands;
using Milter.Protocol.Negotiation;
using Milter.Protocol.Replies;
using Milter.Protocol.Session;

namespace EndToEnd.Tests.ProtocolInterop;

/// <summary>
/// A small filter built on the protocol library alone: refuses <c>reject@</c> (550) and
/// <c>tempfail@</c> (451) at RCPT, and stamps every accepted message with a header naming the
/// client address and the queue id it saw. It asks only for CONNECT, RCPT and EOM, so sendmail
/// is also told to skip every other stage.
/// </summary>
internal sealed class TestFilter(TestFilterLog log) : IMilterHandler
{
    private string? _client;

    public HandlerRequirements Requirements { get; } = new()
    {
        Stages = MilterStages.Connect | MilterStages.Rcpt | MilterStages.EndOfMessage,
        Replies = MilterStages.Rcpt | MilterStages.EndOfMessage,
        Actions = ActionFlags.AddHeaders,
        Macros = new Dictionary<MacroStage, IReadOnlyList<string>>
        {
            [MacroStage.Connect] = ["{client_addr}"],
            [MacroStage.EnvRcpt] = ["i", "{rcpt_addr}"],
            [MacroStage.EndOfMessage] = ["i"],
        },
    };

    public ValueTask<Verdict> OnConnectAsync(ConnectCommand command, MilterConnectionContext context, CancellationToken cancellationToken)
    {
        _client = context.Macros.Get("client_addr") ?? command.Address;
        log.Connections.Enqueue(new ConnectSeen(command.Family, command.IPAddress, _client, context.ConnectionId));
        return default;
    }

    public ValueTask<Verdict> OnRcptAsync(RcptCommand command, MilterConnectionContext context, CancellationToken cancellationToken)
    {
        var local = command.Address.Split('@')[0].ToLowerInvariant();
        return local switch
        {
            "reject" => ValueTask.FromResult(Verdict.Reject(new SmtpReply(550, "5.7.1", "Recipient refused by the test filter"))),
            "tempfail" => ValueTask.FromResult(Verdict.Tempfail(new SmtpReply(451, "4.7.1", "Try again later, says the test filter"))),
            _ => default,
        };
    }

    public ValueTask<Verdict> OnEndOfMessageAsync(IMessageModifier modifier, MilterConnectionContext context, CancellationToken cancellationToken)
    {
        log.Messages.Enqueue(new MessageSeen(context.ConnectionId, context.QueueId));
        modifier.AddHeader("X-Milter-Test", $"client={_client} qid={context.QueueId}");
        return ValueTask.FromResult(Verdict.Accept);
    }
}

internal sealed record ConnectSeen(ConnectFamily Family, System.Net.IPAddress? Address, string? ClientMacro, long ConnectionId);

internal sealed record MessageSeen(long ConnectionId, string? QueueId);

/// <summary>What the test filter saw, across connections.</summary>
internal sealed class TestFilterLog
{
    public ConcurrentQueue<ConnectSeen> Connections { get; } = new();

    public ConcurrentQueue<MessageSeen> Messages { get; } = new();
}
