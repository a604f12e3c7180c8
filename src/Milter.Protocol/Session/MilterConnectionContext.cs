using Milter.Protocol.Negotiation;

namespace Milter.Protocol.Session;

/// <summary>What the session knows about one milter connection, shared with its handler.</summary>
public sealed class MilterConnectionContext
{
    internal MilterConnectionContext(long connectionId, MacroTable macros)
    {
        ConnectionId = connectionId;
        Macros = macros;
    }

    /// <summary>A number unique within the process, for log lines.</summary>
    public long ConnectionId { get; }

    /// <summary>Macros received so far, visible to every later stage.</summary>
    public MacroTable Macros { get; }

    /// <summary>The negotiated protocol version (2–6), known after OPTNEG.</summary>
    public uint Version { get; internal set; }

    /// <summary>The actions agreed at OPTNEG.</summary>
    public ActionFlags Actions { get; internal set; }

    /// <summary>The protocol flags agreed at OPTNEG.</summary>
    public ProtocolFlags Protocol { get; internal set; }

    /// <summary>How many SMTP sessions this milter connection has carried (QUIT_NC starts another).</summary>
    public int SmtpSessionCount { get; internal set; }

    /// <summary>The queue id (macro <c>i</c>) when the MTA has sent it.</summary>
    public string? QueueId => Macros.Get("i");
}
