using System.Buffers;
using Milter.Protocol.Commands;
using Milter.Protocol.Negotiation;
using Milter.Protocol.Replies;

namespace Milter.Protocol.Session;

/// <summary>
/// The filter's half of one milter connection: one instance per connection, called by
/// <see cref="MilterSession"/> one stage at a time (never concurrently). Every method has a default
/// that continues, so a handler writes only the stages it uses; <see cref="Requirements"/> tells
/// the session which stages to ask for at all.
/// </summary>
public interface IMilterHandler
{
    /// <summary>
    /// Read once, when OPTNEG arrives: the stages, replies, actions and macros this handler needs.
    /// The negotiator never asks for more than the MTA offers.
    /// </summary>
    HandlerRequirements Requirements => HandlerRequirements.Everything;

    /// <summary>SMFIC_CONNECT: a new SMTP client. Reject here and sendmail refuses the whole SMTP session.</summary>
    ValueTask<Verdict> OnConnectAsync(ConnectCommand command, MilterConnectionContext context, CancellationToken cancellationToken) => default;

    /// <summary>SMFIC_HELO: HELO or EHLO; may come more than once (EHLO again after STARTTLS).</summary>
    ValueTask<Verdict> OnHeloAsync(HeloCommand command, MilterConnectionContext context, CancellationToken cancellationToken) => default;

    /// <summary>SMFIC_MAIL: a message starts. Macros of stage M (e.g. <c>i</c>, <c>{auth_authen}</c>) are set.</summary>
    ValueTask<Verdict> OnMailAsync(MailCommand command, MilterConnectionContext context, CancellationToken cancellationToken) => default;

    /// <summary>SMFIC_RCPT: one recipient. A Reject or Tempfail refuses this recipient only.</summary>
    ValueTask<Verdict> OnRcptAsync(RcptCommand command, MilterConnectionContext context, CancellationToken cancellationToken) => default;

    /// <summary>SMFIC_DATA: the client sent DATA (all recipients known).</summary>
    ValueTask<Verdict> OnDataAsync(MilterConnectionContext context, CancellationToken cancellationToken) => default;

    /// <summary>SMFIC_HEADER: one header of the message.</summary>
    ValueTask<Verdict> OnHeaderAsync(HeaderCommand command, MilterConnectionContext context, CancellationToken cancellationToken) => default;

    /// <summary>SMFIC_EOH: end of the headers.</summary>
    ValueTask<Verdict> OnEndOfHeadersAsync(MilterConnectionContext context, CancellationToken cancellationToken) => default;

    /// <summary>SMFIC_BODY: a body chunk (CRLF line ends). The bytes are valid only during the call.</summary>
    ValueTask<Verdict> OnBodyAsync(ReadOnlySequence<byte> chunk, MilterConnectionContext context, CancellationToken cancellationToken) => default;

    /// <summary>SMFIC_BODYEOB: end of message; the only place for modifications.</summary>
    ValueTask<Verdict> OnEndOfMessageAsync(IMessageModifier modifier, MilterConnectionContext context, CancellationToken cancellationToken) => default;

    /// <summary>SMFIC_UNKNOWN: an SMTP command the MTA did not recognise.</summary>
    ValueTask<Verdict> OnUnknownAsync(UnknownCommand command, MilterConnectionContext context, CancellationToken cancellationToken) => default;

    /// <summary>SMFIC_ABORT: the current message is abandoned (RSET or a refused transaction). No reply.</summary>
    ValueTask OnAbortAsync(MilterConnectionContext context, CancellationToken cancellationToken) => default;

    /// <summary>
    /// The SMTP session ended: QUIT, QUIT_NC (another CONNECT may follow on this connection), or the
    /// connection was lost. Called once per SMTP session that saw CONNECT.
    /// </summary>
    ValueTask OnCloseAsync(MilterConnectionContext context, CancellationToken cancellationToken) => default;
}
