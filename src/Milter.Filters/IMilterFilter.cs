using Milter.Filters.Context;
using Milter.Protocol.Replies;
using Milter.Protocol.Session;

namespace Milter.Filters;

/// <summary>
/// One policy in the chain (relay, ban, recipients, greylist). Each stage has a default that
/// continues, so a filter writes only what it uses, and <see cref="Needs"/> says which stages and
/// macros it reads; the chain asks the MTA for the union and nothing more. A verdict at RCPT
/// applies to that recipient only. Return the rule id that decided in <see cref="Verdict.Rule"/>.
/// </summary>
public interface IMilterFilter
{
    /// <summary>Short name for log lines and <c>simulate</c>: <c>relay</c>, <c>ban</c>, <c>recipients</c>, <c>greylist</c>.</summary>
    string Name { get; }

    /// <summary>The stages this filter acts on and the macros it reads.</summary>
    FilterNeeds Needs { get; }

    ValueTask<Verdict> OnConnectAsync(SessionContext session, CancellationToken cancellationToken) => default;
    ValueTask<Verdict> OnHeloAsync(SessionContext session, CancellationToken cancellationToken) => default;
    ValueTask<Verdict> OnMailAsync(SessionContext session, CancellationToken cancellationToken) => default;
    ValueTask<Verdict> OnRcptAsync(SessionContext session, RecipientContext recipient, CancellationToken cancellationToken) => default;
    ValueTask<Verdict> OnDataAsync(SessionContext session, CancellationToken cancellationToken) => default;
    ValueTask<Verdict> OnHeaderAsync(SessionContext session, string name, string value, CancellationToken cancellationToken) => default;
    ValueTask<Verdict> OnEndOfHeadersAsync(SessionContext session, CancellationToken cancellationToken) => default;
    ValueTask<Verdict> OnEndOfMessageAsync(SessionContext session, CancellationToken cancellationToken) => default;

    /// <summary>
    /// End of message, with the changes the filter may make (add or insert a header, ...): only those
    /// its <see cref="FilterNeeds.Actions"/> declares and the MTA granted; any other call throws.
    /// Changes are sent before the verdict. Defaults to the overload without the modifier.
    /// </summary>
    ValueTask<Verdict> OnEndOfMessageAsync(SessionContext session, IMessageModifier modifier, CancellationToken cancellationToken) =>
        OnEndOfMessageAsync(session, cancellationToken);

    /// <summary>The message was abandoned (RSET, or refused); per-message state is about to be cleared.</summary>
    ValueTask OnAbortAsync(SessionContext session, CancellationToken cancellationToken) => default;

    /// <summary>The SMTP session ended.</summary>
    ValueTask OnCloseAsync(SessionContext session, CancellationToken cancellationToken) => default;
}
