namespace Milter.Protocol.Session;

/// <summary>
/// Every bound of the listener and its connections, in one record: each is something a hostile or
/// stuck peer could otherwise push. The YAML <c>limits:</c> section fills the first five.
/// </summary>
public sealed record MilterLimits
{
    /// <summary>Concurrent connections (sendmail opens one per SMTP session); more are accepted and closed at once (counted, logged once per burst).</summary>
    public int MaxConnections { get; init; } = 1000;

    /// <summary>
    /// A connection silent this long between commands is closed. An MTA can be silent for as long as
    /// its SMTP client takes: sendmail reads the whole message before it sends the first header (and
    /// asks its milters one after another), Postfix sends them once the message is queued, and between
    /// transactions the client may idle up to sendmail's <c>Timeout.command</c> (1 h, as its
    /// <c>Timeout.datablock</c>). So two hours, as libmilter's 7,210 s: shorter, and a large message on a
    /// slow link would lose its connection mid-DATA and be deferred on every retry.
    /// </summary>
    public TimeSpan IdleTimeout { get; init; } = TimeSpan.FromHours(2);

    /// <summary>Largest frame accepted. sendmail sends at most 64 KiB unless 256K/1M was agreed; 1 MiB plus headroom covers both.</summary>
    public int MaxFrameSize { get; init; } = 1024 * 1024 + 64;

    /// <summary>
    /// How long the handler may work on one stage before the session answers per on_error. Keep it
    /// below the MTA's read timeout (sendmail's <c>T=R:</c>, 30 s in our INPUT_MAIL_FILTER line), so
    /// the MTA hears our fallback answer rather than timing out itself.
    /// </summary>
    public TimeSpan StageTimeout { get; init; } = TimeSpan.FromSeconds(20);

    /// <summary>On shutdown (SIGTERM), how long sessions in flight may take to finish before they are cut off.</summary>
    public TimeSpan ShutdownGrace { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>Macros in one MACRO packet; sendmail sends at most 50 per stage (MAXFILTERMACROS).</summary>
    public int MaxMacrosPerPacket { get; init; } = 512;

    /// <summary>
    /// HEADER payload bytes one message may carry before the connection is closed as hostile; null:
    /// no limit (headers are handled as they stream in and never kept, so memory is bounded either
    /// way). sendmail sends at most its MaxHeadersLength (32 KiB by default), Postfix its
    /// header_size_limit (100 KiB).
    /// </summary>
    public long? MaxHeaderBytes { get; init; }

    /// <summary>While the handler works on end of message, send PROGRESS this often so sendmail's E: timeout restarts.</summary>
    public TimeSpan ProgressInterval { get; init; } = TimeSpan.FromSeconds(5);

    /// <summary>After a stage timeout the handler is cancelled and given this long to stop before the connection is closed.</summary>
    public TimeSpan CancelGrace { get; init; } = TimeSpan.FromSeconds(2);
}
