using System.Net;

namespace Milter.Filters.Stores;

/// <summary>Where a dynamic ban came from.</summary>
public enum BanSource { Admin, Logscan, Bypass }

/// <summary>One entry of the dynamic ban list: a client network banned until <see cref="Expires"/>.</summary>
public sealed record DynamicBan(IPNetwork Network, string Reason, BanSource Source, DateTimeOffset Created, DateTimeOffset Expires);

/// <summary>
/// The dynamic ban list (checked at CONNECT), shared by the daemon, <c>ban</c>, <c>logscan --apply</c>
/// and the greylist's bypass ban. SQLite or PostgreSQL behind it.
/// </summary>
public interface IDynamicBanStore
{
    /// <summary>
    /// Adds a ban, or extends an existing one for the same network to the later expiry. Returns
    /// false when an active ban for exactly that network already covered the new expiry (nothing new).
    /// </summary>
    Task<bool> AddAsync(DynamicBan ban, CancellationToken cancellationToken);

    /// <summary>Removes the ban for exactly that network; false when there was none.</summary>
    Task<bool> RemoveAsync(IPNetwork network, CancellationToken cancellationToken);

    /// <summary>Active bans at <paramref name="now"/>, newest first.</summary>
    Task<IReadOnlyList<DynamicBan>> ListAsync(DateTimeOffset now, CancellationToken cancellationToken);

    /// <summary>The active ban covering <paramref name="address"/>, or null. Served from memory on the CONNECT path.</summary>
    ValueTask<DynamicBan?> FindAsync(IPAddress address, DateTimeOffset now, CancellationToken cancellationToken);
}
