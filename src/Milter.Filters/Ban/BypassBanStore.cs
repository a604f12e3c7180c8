using System.Net;
using Dapper;
using Microsoft.Extensions.Logging;
using Milter.Filters.Configuration;
using Milter.Filters.Greylist;
using Milter.Filters.Stores;

namespace Milter.Filters.Ban;

/// <summary>
/// What the bypass ban asks of the store (<see cref="BypassBanStore"/>). May throw
/// <see cref="StoreUnavailableException"/>.
/// </summary>
public interface IBypassBanStore
{
    /// <summary>
    /// The chain reports a rejection of this client (unknown recipient, ban rule). Counted under
    /// <paramref name="clientKey"/> (<see cref="ClientKey.For"/>: the key the client is greylisted
    /// under, its subnet or its sender's SPF pool), and only once that key passed greylisting; at
    /// <c>bypass_ban.after</c> within <c>bypass_ban.within</c> the key loses its auto-whitelist entries
    /// and the client's address is put on the dynamic ban list for <c>bypass_ban.ban_for</c> (an IPv6
    /// client's /64, unless one of <paramref name="trustedClients"/> is in it: then its address alone).
    /// Returns that ban, or null.
    /// </summary>
    Task<DynamicBan?> RecordMisbehaviourAsync(IPAddress client, string clientKey, DateTimeOffset now, GreylistOptions options,
        IReadOnlyList<IPNetwork> trustedClients, CancellationToken cancellationToken);
}

/// <summary>
/// The bypass ban's bookkeeping: strikes per client key in the greylist's database (swept when they
/// leave the window), the ban on the dynamic ban list, and the banned key's auto-whitelist entries
/// removed from the database and from the greylist's pass cache.
/// </summary>
public sealed class BypassBanStore : IBypassBanStore, IExpiringStore
{
    private readonly StoreDatabase _database;
    private readonly IDynamicBanStore _bans;
    private readonly PassCache _passes;
    private readonly ILogger _logger;

    internal BypassBanStore(StoreDatabase database, IDynamicBanStore bans, PassCache passes, ILogger<BypassBanStore> logger)
    {
        _database = database;
        _bans = bans;
        _passes = passes;
        _logger = logger;
    }

    /// <summary>The client's own network, as strikes and bans take it.</summary>
    private static readonly SubnetOptions OwnNetwork = new() { Ipv4 = 32, Ipv6 = 64 };

    public async Task<DynamicBan?> RecordMisbehaviourAsync(IPAddress client, string clientKey, DateTimeOffset now, GreylistOptions options,
        IReadOnlyList<IPNetwork> trustedClients, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(client);
        ArgumentException.ThrowIfNullOrEmpty(clientKey);
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(trustedClients);
        if (options.BypassBan.After <= 0)
            return null;
        // Strikes are the client's own, and so is the ban: its address (IPv4) or its /64 (IPv6, where
        // a host moves within its /64 at will). Whether it passed greylisting is asked of its greylist
        // key (its subnet or SPF pool), as a pass is recorded there. Counted per subnet or pool, a
        // whole provider's strikes fell on whichever address made the last one.
        var key = clientKey;
        var address = IPNetworks.Canonical(client);
        var network = IPNetworks.Containing(address, 64); // an IPv4 address is clamped to its /32
        // A trusted client (relay.allow_clients: a partner relay, our other MX, a neighbour on a shared
        // /64) is never refused: a /64 that holds one is not banned, the offender's address alone is.
        if (trustedClients.Any(t => t.Contains(network.BaseAddress) || network.Contains(t.BaseAddress)))
            network = new IPNetwork(address, address.AddressFamily == System.Net.Sockets.AddressFamily.InterNetwork ? 32 : 128);
        var strikeKey = ClientKey.ForAddress(address, OwnNetwork);
        var seconds = now.ToUnixTimeSeconds();
        var within = (long)options.BypassBan.Within.TotalSeconds;
        var strikes = await _database.WriteAsync(async (session, ct) =>
        {
            var passed = await session.Connection.ExecuteScalarAsync<long>(StoreSql.HasPassed, new ClientNowArgs(key, seconds, ct), commandTimeout: session.CommandTimeout).ConfigureAwait(false);
            if (passed == 0)
                return 0L;
            await session.Connection.ExecuteAsync(StoreSql.AddStrike, new StrikeArgs(strikeKey, seconds, seconds + within, ct), commandTimeout: session.CommandTimeout).ConfigureAwait(false);
            return await session.Connection.ExecuteScalarAsync<long>(StoreSql.CountStrikes, new StrikeCountArgs(strikeKey, seconds - within, ct), commandTimeout: session.CommandTimeout).ConfigureAwait(false);
        }, cancellationToken).ConfigureAwait(false);
        if (!GreylistPolicy.ShouldBan((int)Math.Min(strikes, int.MaxValue), options))
            return null;

        var ban = new DynamicBan(
            network,
            $"passed greylisting, then {strikes} rejections within {options.BypassBan.Within}",
            BanSource.Bypass,
            now,
            now + options.BypassBan.BanFor);
        // The ban first: it is what stops the client; losing the whitelist only matters once the ban ends.
        await _bans.AddAsync(ban, cancellationToken).ConfigureAwait(false);
        await _database.WriteAsync(async (session, ct) =>
        {
            await session.Connection.ExecuteAsync(StoreSql.DeleteAwlOfClient, new ClientArgs(key, ct), commandTimeout: session.CommandTimeout).ConfigureAwait(false);
            // Other MX hosts sharing the database forget the whitelisting they cached (at their next
            // change poll); without it the key's other addresses skipped greylisting there for up to an hour.
            await StoreGenerations.BumpAsync(session, StoreGenerations.Greylist, ct).ConfigureAwait(false);
            return await session.Connection.ExecuteAsync(StoreSql.DeleteStrikes, new ClientArgs(strikeKey, ct), commandTimeout: session.CommandTimeout).ConfigureAwait(false);
        }, cancellationToken).ConfigureAwait(false);
        _passes.RemoveAutoWhitelistOf(key);
        GreylistLog.BypassBan(_logger, address.ToString(), key, strikes, ban.Expires);
        return ban;
    }

    /// <summary>Deletes strikes that left their window.</summary>
    public Task<int> SweepAsync(DateTimeOffset now, int batchSize, CancellationToken cancellationToken)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(batchSize, 1);
        return _database.WriteAsync((session, ct) => session.Connection.ExecuteAsync(StoreSql.SweepStrikes,
            new SweepArgs(now.ToUnixTimeSeconds(), batchSize, ct), commandTimeout: session.CommandTimeout), cancellationToken, mayRelax: true);
    }
}
