namespace Milter.Protocol.Session;

/// <summary>
/// How long a loop has run on without waiting. Socket completions run inline on the few socket-engine
/// threads (the daemon sets DOTNET_SYSTEM_NET_SOCKETS_INLINE_COMPLETIONS), so a loop whose every read
/// or accept completes at once (a peer whose next command, or next connection, is always there already:
/// a fast MTA under churn, a pipelining one) would keep its thread from every other socket of that
/// engine for as long as that lasts. A loop that finds its stretch spent yields to the thread pool
/// before going on.
/// </summary>
internal struct SocketThreadBudget(TimeProvider time)
{
    /// <summary>The longest stretch a loop keeps a socket thread without waiting.</summary>
    public static readonly TimeSpan Stretch = TimeSpan.FromMilliseconds(1);

    private long _since = time.GetTimestamp();

    /// <summary>Starts a new stretch: the loop has just waited, or moved to another thread.</summary>
    public void Restart() => _since = time.GetTimestamp();

    /// <summary>Whether the loop has run <see cref="Stretch"/> or longer since it last waited.</summary>
    public readonly bool Spent => time.GetElapsedTime(_since) >= Stretch;
}
