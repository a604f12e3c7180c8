using System.Net;
using Milter.Filters.Configuration;
using Milter.Filters.Stores;

namespace Milter.Filters.Greylist;

/// <summary>
/// Greylisting state: triplets, auto-whitelist, the admin allow list and bypass strikes, in SQLite
/// (<see cref="SqliteGreylistStore"/>) or PostgreSQL (<see cref="PostgresGreylistStore"/>) with a
/// cache in front. Every method may throw <see cref="StoreUnavailableException"/>.
/// </summary>
public interface IGreylistStore : IExpiringStore
{
    /// <summary>
    /// Decides one attempt and records it: allow list, auto-whitelist, then the triplet through
    /// <see cref="GreylistPolicy.Evaluate"/>, in one transaction committed before this returns (an
    /// answered pass is durable). Known passes come from memory.
    /// </summary>
    /// <param name="clientAddress">The client's address, for network allow entries; null when the key is not address-based.</param>
    Task<GreylistResult> CheckAsync(Triplet triplet, IPAddress? clientAddress, DateTimeOffset now, GreylistOptions options, CancellationToken cancellationToken);

    /// <summary>What <see cref="CheckAsync"/> would answer, changing nothing (<c>simulate</c> without <c>--record</c>).</summary>
    Task<GreylistResult> PreviewAsync(Triplet triplet, IPAddress? clientAddress, DateTimeOffset now, GreylistOptions options, CancellationToken cancellationToken);

    /// <summary>
    /// The chain reports a rejection of this client (unknown recipient, ban rule). Counted under
    /// <paramref name="clientKey"/> (<see cref="ClientKey.For"/>: the key the client is greylisted
    /// under, its subnet or its sender's SPF pool), and only once that key passed greylisting; at
    /// <c>bypass_ban.after</c> within <c>bypass_ban.within</c> the key loses its auto-whitelist entries
    /// and the client's address is put on the dynamic ban list for <c>bypass_ban.ban_for</c>.
    /// Returns that ban, or null.
    /// </summary>
    Task<DynamicBan?> RecordMisbehaviourAsync(IPAddress client, string clientKey, DateTimeOffset now, GreylistOptions options, CancellationToken cancellationToken);

    Task<IReadOnlyList<TripletEntry>> ListTripletsAsync(GreylistQuery query, DateTimeOffset now, CancellationToken cancellationToken);

    Task<IReadOnlyList<AutoWhitelistEntry>> ListAutoWhitelistAsync(GreylistQuery query, DateTimeOffset now, CancellationToken cancellationToken);

    Task<IReadOnlyList<GreylistAllowEntry>> ListAllowedAsync(DateTimeOffset now, CancellationToken cancellationToken);

    Task<GreylistStats> StatsAsync(DateTimeOffset now, GreylistOptions options, CancellationToken cancellationToken);

    /// <summary>The clients (subnet or SPF keys) with the most pending triplets, most first (<c>greylist stats</c>).</summary>
    Task<IReadOnlyList<PendingClient>> TopPendingClientsAsync(int limit, DateTimeOffset now, CancellationToken cancellationToken);

    /// <summary>Adds or replaces an admin allow entry (a client network or a sender domain).</summary>
    Task AllowAsync(GreylistAllowEntry entry, CancellationToken cancellationToken);

    /// <summary>Removes an admin allow entry; false when there was none.</summary>
    Task<bool> DisallowAsync(GreylistAllowKind kind, string value, CancellationToken cancellationToken);

    /// <summary>Removes the triplets matching <paramref name="query"/>; returns how many.</summary>
    Task<int> RemoveTripletsAsync(GreylistQuery query, DateTimeOffset now, CancellationToken cancellationToken);

    /// <summary>Removes the auto-whitelist entries matching <paramref name="query"/> (client, sender domain, passes); returns how many.</summary>
    Task<int> RemoveAutoWhitelistAsync(GreylistQuery query, DateTimeOffset now, CancellationToken cancellationToken);

    /// <summary>Deletes every expired row now, batch after batch (<c>milterhost greylist purge</c>); returns how many.</summary>
    Task<int> PurgeAsync(DateTimeOffset now, CancellationToken cancellationToken);
}
