using System.Net;
using Milter.Filters.Configuration;
using Milter.Filters.Greylist;
using Milter.Filters.Stores;

namespace MilterHost.Simulation;

/// <summary>
/// The greylist as <c>simulate</c> sees it without <c>--record</c>: every check is answered by
/// <see cref="IGreylistStore.PreviewAsync"/> (the real decision inside a transaction that is rolled
/// back), a reported misbehaviour is not counted, and every other write is refused.
/// </summary>
internal sealed class ReadOnlyGreylistStore(IGreylistStore inner) : IGreylistStore
{
    public Task<GreylistResult> CheckAsync(Triplet triplet, IPAddress? clientAddress, DateTimeOffset now, GreylistOptions options, CancellationToken cancellationToken) =>
        inner.PreviewAsync(triplet, clientAddress, now, options, cancellationToken);

    public Task<GreylistResult> PreviewAsync(Triplet triplet, IPAddress? clientAddress, DateTimeOffset now, GreylistOptions options, CancellationToken cancellationToken) =>
        inner.PreviewAsync(triplet, clientAddress, now, options, cancellationToken);

    public Task<DynamicBan?> RecordMisbehaviourAsync(IPAddress client, string clientKey, DateTimeOffset now, GreylistOptions options, CancellationToken cancellationToken) =>
        Task.FromResult<DynamicBan?>(null);

    public Task<IReadOnlyList<TripletEntry>> ListTripletsAsync(GreylistQuery query, DateTimeOffset now, CancellationToken cancellationToken) =>
        inner.ListTripletsAsync(query, now, cancellationToken);

    public Task<IReadOnlyList<AutoWhitelistEntry>> ListAutoWhitelistAsync(GreylistQuery query, DateTimeOffset now, CancellationToken cancellationToken) =>
        inner.ListAutoWhitelistAsync(query, now, cancellationToken);

    public Task<IReadOnlyList<GreylistAllowEntry>> ListAllowedAsync(DateTimeOffset now, CancellationToken cancellationToken) =>
        inner.ListAllowedAsync(now, cancellationToken);

    public Task<GreylistStats> StatsAsync(DateTimeOffset now, GreylistOptions options, CancellationToken cancellationToken) =>
        inner.StatsAsync(now, options, cancellationToken);

    public Task<IReadOnlyList<PendingClient>> TopPendingClientsAsync(int limit, DateTimeOffset now, CancellationToken cancellationToken) =>
        inner.TopPendingClientsAsync(limit, now, cancellationToken);

    public Task AllowAsync(GreylistAllowEntry entry, CancellationToken cancellationToken) => throw Refused();

    public Task<bool> DisallowAsync(GreylistAllowKind kind, string value, CancellationToken cancellationToken) => throw Refused();

    public Task<int> RemoveTripletsAsync(GreylistQuery query, DateTimeOffset now, CancellationToken cancellationToken) => throw Refused();

    public Task<int> RemoveAutoWhitelistAsync(GreylistQuery query, DateTimeOffset now, CancellationToken cancellationToken) => throw Refused();

    public Task<int> PurgeAsync(DateTimeOffset now, CancellationToken cancellationToken) => throw Refused();

    public Task<int> SweepAsync(DateTimeOffset now, int batchSize, CancellationToken cancellationToken) => throw Refused();

    public Task FlushAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    internal static InvalidOperationException Refused() =>
        new("the store is read-only: simulate writes nothing without --record");
}
