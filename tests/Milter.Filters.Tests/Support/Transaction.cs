using System.Net;
using System.Net.Sockets;
using Milter.Filters;
using Milter.Protocol.Commands;
using Milter.Protocol.Negotiation;
using Milter.Protocol.Replies;
using Milter.Protocol.Session;

namespace Milter.Filters.Tests.Support;

/// <summary>
/// One SMTP session scripted the way an MTA reports it to the milter, without a socket:
/// <code>
/// await Transaction.From("203.0.113.9", "mx.remote.example").Helo("mx.remote.example")
///     .MailFrom("a@remote.example").RcptTo("bob@example.com").Subject("hello").RunAsync(chain);
/// </code>
/// Like sendmail, it stops talking after a refused CONNECT or HELO, abandons a message (ABORT)
/// after a refused MAIL, a discard, or DATA with no accepted recipient, and picks up again at
/// the next MAIL. Headers imply DATA; EOM is sent at the end of each message unless written.
/// </summary>
public sealed class Transaction
{
    /// <summary>The MTA's own name, its <c>{j}</c> macro at CONNECT of a TCP client.</summary>
    public const string MtaHostName = "mx.example.com";

    private readonly List<Step> _steps = [];
    private readonly ConnectCommand _connect;
    private readonly Dictionary<string, string> _connectMacros;
    private string? _login;
    private int _messages;

    private Transaction(ConnectCommand connect, Dictionary<string, string> connectMacros)
    {
        _connect = connect;
        _connectMacros = connectMacros;
    }

    /// <summary>
    /// A client over TCP; <paramref name="name"/> null means its reverse lookup failed (sendmail's
    /// <c>[addr]</c>); pass <c>"unknown"</c> to report it the way Postfix does.
    /// </summary>
    public static Transaction From(string address, string? name = null)
    {
        var ip = IPAddress.Parse(address);
        var reported = name ?? $"[{address}]";
        var family = ip.AddressFamily == AddressFamily.InterNetworkV6 ? ConnectFamily.Inet6 : ConnectFamily.Inet;
        return new Transaction(new ConnectCommand(reported, family, 25, address), new()
        {
            ["{client_addr}"] = address,
            ["{client_name}"] = reported,
            ["j"] = MtaHostName,
        });
    }

    /// <summary>A client over TCP from <paramref name="client"/>: its real address and port, so the kernel's socket table knows it.</summary>
    public static Transaction From(IPEndPoint client)
    {
        var t = From(client.Address.ToString(), "localhost");
        return new Transaction(t._connect with { Port = (ushort)client.Port }, t._connectMacros);
    }

    /// <summary>One more macro sendmail sends at CONNECT (<c>{daemon_port}</c>, <c>_</c>, ...).</summary>
    public Transaction ConnectMacro(string name, string value)
    {
        _connectMacros[name] = value;
        return this;
    }

    /// <summary>A local program submitting over sendmail's Unix socket (CONNECT family L).</summary>
    public static Transaction Local() =>
        new(new ConnectCommand("localhost", ConnectFamily.Unix, 0, "/var/run/sendmail.sock"), new() { ["{client_name}"] = "localhost" });

    /// <summary>
    /// Postfix's sendmail command (<c>non_smtpd_milters</c>): no socket, so its cleanup reports the
    /// client as <c>localhost</c>, 127.0.0.1, port 0, as a real Postfix 3.7 sends it.
    /// </summary>
    public static Transaction PostfixSendmailCommand() =>
        new(new ConnectCommand("localhost", ConnectFamily.Inet, 0, "127.0.0.1"), new()
        {
            ["_"] = "localhost [127.0.0.1]",
            ["{client_addr}"] = "127.0.0.1",
            ["{client_name}"] = "localhost",
            ["{daemon_addr}"] = "127.0.0.1",
            ["{daemon_port}"] = "0",
        });

    /// <summary><c>sendmail -bs</c>: SMTP on stdin, CONNECT family U with no address.</summary>
    public static Transaction StandardInput() =>
        new(new ConnectCommand("localhost", ConnectFamily.Unknown, 0, null), new());

    public Transaction Helo(string name) => Add(StepKind.Helo, $"EHLO {name}", name);

    /// <summary>The session authenticates (SMTP AUTH): later MAILs carry <c>{auth_authen}</c>.</summary>
    public Transaction Auth(string login)
    {
        _login = login;
        return this;
    }

    public Transaction MailFrom(string sender)
    {
        EndMessageIfOpen();
        _messages++;
        var login = _login;
        var queueId = $"Q{_messages:D4}";
        return Add(StepKind.Mail, $"MAIL FROM:{Bracket(sender)}", Bracket(sender), queueId, login);
    }

    public Transaction RcptTo(string recipient, string? mailer = null) =>
        Add(StepKind.Rcpt, $"RCPT TO:{Bracket(recipient)}", Bracket(recipient), mailer);

    public Transaction Data() => Add(StepKind.Data, "DATA");

    public Transaction Header(string name, string value)
    {
        if (!_steps.Skip(LastMailIndex()).Any(s => s.Kind == StepKind.Data))
            Data();
        return Add(StepKind.Header, $"{name}: {value}", name, value);
    }

    public Transaction Subject(string subject) => Header("Subject", subject);

    public Transaction EndOfHeaders() => Add(StepKind.EndOfHeaders, "(end of headers)");

    public Transaction EndOfMessage()
    {
        if (!_steps.Skip(LastMailIndex()).Any(s => s.Kind == StepKind.Data))
            Data();
        if (!_steps.Skip(LastMailIndex()).Any(s => s.Kind == StepKind.EndOfHeaders))
            EndOfHeaders();
        return Add(StepKind.EndOfMessage, ".");
    }

    /// <summary>RSET: the client abandons the message.</summary>
    public Transaction Rset() => Add(StepKind.Abort, "RSET");

    /// <summary>Runs the session through a fresh <see cref="ChainHandler"/> over <paramref name="chain"/>.</summary>
    public Task<TransactionResult> RunAsync(FilterChain chain) =>
        RunAsync(new RecordingSink(), sink => new ChainHandler(chain, sink));

    public async Task<TransactionResult> RunAsync(RecordingSink sink, Func<IDecisionSink, ChainHandler> handlerFactory)
    {
        EndMessageIfOpen();
        var handler = handlerFactory(sink);
        var macros = new MacroTable();
        var context = new MilterConnectionContext(1, macros);
        var ct = CancellationToken.None;
        var outcomes = new List<StepOutcome>();
        var changes = new HeaderChanges();

        macros.SetStage('C', _connectMacros);
        var connect = await handler.OnConnectAsync(_connect, context, ct);
        outcomes.Add(new StepOutcome($"CONNECT {_connect.HostName} {_connect.Address}", connect));
        var sessionOver = connect.IsFinal;
        var messageOver = false;
        var accepted = 0;

        foreach (var step in _steps)
        {
            if (sessionOver || (messageOver && step.Kind != StepKind.Mail && step.Kind != StepKind.Helo))
            {
                outcomes.Add(new StepOutcome(step.Text, null));
                continue;
            }
            Verdict verdict;
            switch (step.Kind)
            {
                case StepKind.Helo:
                    macros.SetStage('H', []);
                    verdict = await handler.OnHeloAsync(new HeloCommand(step.Args[0]!), context, ct);
                    sessionOver = verdict.Kind is VerdictKind.Reject or VerdictKind.Tempfail;
                    break;
                case StepKind.Mail:
                    macros.ClearMessage();
                    var mailMacros = new Dictionary<string, string> { ["i"] = step.Args[1]! };
                    if (step.Args[2] is { } login)
                        mailMacros["{auth_authen}"] = login;
                    macros.SetStage('M', mailMacros);
                    messageOver = false;
                    accepted = 0;
                    verdict = await handler.OnMailAsync(new MailCommand(step.Args[0]!, []), context, ct);
                    break;
                case StepKind.Rcpt:
                    macros.SetStage('R', step.Args[1] is { } mailer ? new Dictionary<string, string> { ["{rcpt_mailer}"] = mailer } : []);
                    verdict = await handler.OnRcptAsync(new RcptCommand(step.Args[0]!, []), context, ct);
                    if (!verdict.IsFinal || verdict.Kind == VerdictKind.Accept)
                        accepted++;
                    break;
                case StepKind.Data:
                    if (accepted == 0)
                    {
                        // sendmail answers "554 no valid recipients" itself and the message is gone.
                        outcomes.Add(new StepOutcome(step.Text, null));
                        await handler.OnAbortAsync(context, ct);
                        messageOver = true;
                        continue;
                    }
                    verdict = await handler.OnDataAsync(context, ct);
                    break;
                case StepKind.Header:
                    verdict = await handler.OnHeaderAsync(new HeaderCommand(step.Args[0]!, step.Args[1]!), context, ct);
                    break;
                case StepKind.EndOfHeaders:
                    verdict = await handler.OnEndOfHeadersAsync(context, ct);
                    break;
                case StepKind.EndOfMessage:
                    verdict = await handler.OnEndOfMessageAsync(changes, context, ct);
                    messageOver = true;
                    outcomes.Add(new StepOutcome(step.Text, verdict));
                    continue;
                case StepKind.Abort:
                    await handler.OnAbortAsync(context, ct);
                    messageOver = true;
                    outcomes.Add(new StepOutcome(step.Text, Verdict.Continue));
                    continue;
                default:
                    throw new InvalidOperationException(step.Kind.ToString());
            }
            outcomes.Add(new StepOutcome(step.Text, verdict));
            // A refused MAIL, a discard or an accept ends this message for the milter.
            if (step.Kind != StepKind.Rcpt && step.Kind != StepKind.Helo && verdict.IsFinal)
            {
                messageOver = true;
                if (verdict.Kind is VerdictKind.Reject or VerdictKind.Tempfail)
                    await handler.OnAbortAsync(context, ct);
            }
            else if (step.Kind == StepKind.Rcpt && verdict.Kind == VerdictKind.Discard)
            {
                messageOver = true;
            }
        }
        await handler.OnCloseAsync(context, ct);
        return new TransactionResult(outcomes, sink.Decisions, handler.Session, handler) { HeaderChanges = changes.Made };
    }

    private void EndMessageIfOpen()
    {
        var last = LastMailIndex();
        if (last < 0 || _steps.Count == 0)
            return;
        var tail = _steps.Skip(last).ToList();
        if (tail.Any(s => s.Kind is StepKind.EndOfMessage or StepKind.Abort))
            return;
        EndOfMessage();
    }

    private int LastMailIndex() => _steps.FindLastIndex(s => s.Kind == StepKind.Mail);

    private Transaction Add(StepKind kind, string text, params string?[] args)
    {
        _steps.Add(new Step(kind, text, args));
        return this;
    }

    private static string Bracket(string address) =>
        address.StartsWith('<') ? address : $"<{address}>";

    private enum StepKind { Helo, Mail, Rcpt, Data, Header, EndOfHeaders, EndOfMessage, Abort }

    private sealed record Step(StepKind Kind, string Text, string?[] Args);

    /// <summary>Our filters change headers only; they are recorded as written, any other modification fails the test.</summary>
    private sealed class HeaderChanges : IMessageModifier
    {
        public List<string> Made { get; } = [];
        public ActionFlags Granted { get; init; } = ActionFlags.All;
        public void AddHeader(string name, string value) => Made.Add($"add {name}: {value}");
        public void InsertHeader(uint index, string name, string value) => Made.Add($"insert {index} {name}: {value}");
        public void ChangeHeader(uint index, string name, string value) => Made.Add(value.Length == 0 ? $"remove {index} {name}" : $"change {index} {name}: {value}");
        public void AddRecipient(string recipient, string? esmtpArguments = null) => throw new InvalidOperationException("unexpected modification");
        public void DeleteRecipient(string recipient) => Made.Add($"delete recipient {recipient}");
        public void ChangeFrom(string sender, string? esmtpArguments = null) => throw new InvalidOperationException("unexpected modification");
        public void ReplaceBody(ReadOnlySpan<byte> chunk) => throw new InvalidOperationException("unexpected modification");
        public void Quarantine(string reason) => throw new InvalidOperationException("unexpected modification");
    }
}
