using Milter.Protocol.Negotiation;
using Milter.Protocol.Wire;

namespace Milter.Protocol.Session;

/// <summary>
/// Where one milter connection stands and which commands may come next: the session's state table.
/// <list type="table">
/// <listheader><term>phase</term><description>commands allowed, and where they lead</description></listheader>
/// <item><term>Start</term><description>OPTNEG → Negotiated; nothing else</description></item>
/// <item><term>Negotiated</term><description>CONNECT → Connected; HELO, MAIL and the message stages only when CONNECT was negotiated away (<c>SMFIP_NOCONNECT</c>), opening the SMTP session themselves</description></item>
/// <item><term>Connected</term><description>HELO; MAIL → Message; the message stages only when MAIL was negotiated away (<c>SMFIP_NOMAIL</c>)</description></item>
/// <item><term>Message</term><description>RCPT, DATA, HEADER, EOH, BODY in that order (each may repeat, none goes back); EOM and ABORT → Connected; HELO and MAIL abort the message first</description></item>
/// </list>
/// In every phase after Start: MACRO, UNKNOWN, ABORT, QUIT (closes), QUIT_NC (→ Negotiated, a new SMTP session on the same connection).
/// </summary>
internal sealed class SessionState
{
    public enum Phase { Start, Negotiated, Connected, Message }

    // Message stages in the order the MTA sends them; a stage may repeat (RCPT, HEADER, BODY) but
    // never go back.
    private enum MessageStep { None, Mail, Rcpt, Data, Header, EndOfHeaders, Body }

    private MessageStep _step = MessageStep.None;

    public Phase Current { get; private set; } = Phase.Start;

    /// <summary>The protocol flags agreed at OPTNEG.</summary>
    public ProtocolFlags Agreed { get; private set; }

    /// <summary>HEADER payload bytes of the current message.</summary>
    public long HeaderBytes { get; private set; }

    /// <summary>Checks a command that arrives before OPTNEG.</summary>
    public void CheckAllowedBeforeNegotiation(CommandCode command, byte code)
    {
        if (Current != Phase.Start || command == CommandCode.OptionNegotiation)
            return;
        if (!Enum.IsDefined(command))
            throw new MilterProtocolException(ProtocolViolation.UnknownCommand, $"command byte 0x{code:x2}");
        throw new MilterProtocolException(ProtocolViolation.CommandBeforeNegotiation, $"{command} before OPTNEG");
    }

    /// <summary>OPTNEG, checked before its payload is read: only once per connection.</summary>
    public void CheckNegotiation()
    {
        if (Current != Phase.Start)
            throw new MilterProtocolException(ProtocolViolation.DuplicateNegotiation, "OPTNEG a second time");
    }

    public void Negotiated(ProtocolFlags agreed)
    {
        Agreed = agreed;
        Current = Phase.Negotiated;
    }

    /// <summary>CONNECT, checked before its payload is read: one SMTP session at a time.</summary>
    public void CheckConnect()
    {
        if (Current != Phase.Negotiated)
            throw OutOfOrder("CONNECT twice in one SMTP session");
    }

    /// <summary>CONNECT parsed: the SMTP session is open.</summary>
    public void Connected(MilterConnectionContext context)
    {
        Current = Phase.Connected;
        context.SmtpSessionCount++;
    }

    /// <summary>HELO or MAIL: needs an SMTP session, which it opens itself when CONNECT was negotiated away.</summary>
    public void EnsureSmtpSession(string what, MilterConnectionContext context)
    {
        if (Current != Phase.Negotiated)
            return;
        // Without CONNECT (negotiated away) the SMTP session starts with whatever comes first.
        if ((Agreed & ProtocolFlags.NoConnect) == 0)
            throw OutOfOrder($"{what} before CONNECT");
        Current = Phase.Connected;
        context.SmtpSessionCount++;
    }

    /// <summary>MAIL: a new message (the caller aborted an unfinished one first).</summary>
    public void BeginMessage()
    {
        Current = Phase.Message;
        _step = MessageStep.Mail;
    }

    /// <summary>A message stage (RCPT, DATA, HEADER, EOH, BODY, EOM): checks it against the order and moves to it.</summary>
    public void EnterMessageStage(CommandCode command, string what, MilterConnectionContext context)
    {
        var step = command switch
        {
            CommandCode.Rcpt => MessageStep.Rcpt,
            CommandCode.Data => MessageStep.Data,
            CommandCode.Header => MessageStep.Header,
            CommandCode.EndOfHeaders => MessageStep.EndOfHeaders,
            _ => MessageStep.Body, // BODY and EOM
        };
        EnsureSmtpSession(what, context);
        if (Current != Phase.Message)
        {
            // Without MAIL (negotiated away) a message starts with its first stage.
            if ((Agreed & ProtocolFlags.NoMail) == 0)
                throw OutOfOrder(_step == MessageStep.None && what == "RCPT" ? "RCPT before MAIL" : $"{what} outside a message");
            Current = Phase.Message;
            _step = MessageStep.None;
        }
        if (step < _step)
            throw OutOfOrder($"{what} after {_step}");
        _step = step;
    }

    /// <summary>Counts one HEADER's bytes against <paramref name="limit"/>.</summary>
    public void AddHeaderBytes(long bytes, long? limit)
    {
        HeaderBytes += bytes;
        if (HeaderBytes > limit)
            throw new MilterProtocolException(ProtocolViolation.HeadersTooLarge, $"more than {limit} bytes of headers in one message");
    }

    /// <summary>EOM or ABORT: back to the SMTP session, between messages.</summary>
    public void EndMessage()
    {
        Current = Phase.Connected;
        _step = MessageStep.None;
        HeaderBytes = 0;
    }

    /// <summary>The SMTP session ends (QUIT, QUIT_NC, the connection closing); true when one was open.</summary>
    public bool CloseSmtpSession()
    {
        if (Current is not (Phase.Connected or Phase.Message))
            return false;
        Current = Phase.Negotiated;
        return true;
    }

    /// <summary>QUIT_NC: a new SMTP session may follow on this connection.</summary>
    public void Restart()
    {
        Current = Phase.Negotiated;
        _step = MessageStep.None;
        HeaderBytes = 0;
    }

    private static MilterProtocolException OutOfOrder(string detail) => new(ProtocolViolation.CommandOutOfOrder, detail);
}
