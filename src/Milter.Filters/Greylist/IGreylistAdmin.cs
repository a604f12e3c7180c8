using Milter.Filters.Configuration;
using Milter.Filters.Stores;

namespace Milter.Filters.Greylist;

/// <summary>
/// What <c>milterhost greylist</c> and the stats ask of the greylist (<see cref="GreylistAdmin"/>):
/// listings, counts, the admin allow list, removals and the purge. Every method may throw
/// <see cref="StoreUnavailableException"/>.
/// </summary>
public interface IGreylistAdmin
{
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
