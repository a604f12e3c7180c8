using Dapper;

namespace Milter.Filters.Stores;

/// <summary>
/// The change counters of the <c>store_generation</c> table. Every write another process must
/// notice at once bumps its counter in the same transaction; a running daemon polls the counters
/// (<see cref="StoreChangeWatcher"/>) and re-reads only what changed.
/// </summary>
internal static class StoreGenerations
{
    /// <summary>The dynamic ban list.</summary>
    public const string Bans = "dynamic_ban";

    /// <summary>The greylist's admin allow list.</summary>
    public const string Allow = "greylist_allow";

    /// <summary>Triplets and auto-whitelist entries removed by an admin or a bypass ban: passes cached in memory may be gone.</summary>
    public const string Greylist = "greylist";

    public static Task<int> BumpAsync(StoreSession session, string name, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(session);
        return session.Connection.ExecuteAsync(StoreSql.BumpGeneration, new NameArgs(name, cancellationToken), commandTimeout: session.CommandTimeout);
    }

    public static async Task<IReadOnlyDictionary<string, long>> ReadAsync(StoreSession session, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(session);
        var rows = await session.Connection.QueryAsync<GenerationRow>(StoreSql.SelectGenerations,
            new CancelArgs(cancellationToken), commandTimeout: session.CommandTimeout).ConfigureAwait(false);
        return rows.ToDictionary(r => r.Name, r => r.Generation, StringComparer.Ordinal);
    }
}

/// <summary>A <c>store_generation</c> row.</summary>
internal sealed record GenerationRow(string Name, long Generation);
