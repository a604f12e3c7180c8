using System.Net;
using Milter.Filters.Configuration;
using Milter.Filters.Stores;

namespace Milter.Filters.Greylist;

/// <summary>
/// What the greylist filter asks the store (<see cref="GreylistCheck"/>). May throw
/// <see cref="StoreUnavailableException"/>.
/// </summary>
public interface IGreylistCheck
{
    /// <summary>
    /// Decides one attempt and records it: allow list, auto-whitelist, then the triplet through
    /// <see cref="GreylistPolicy.Evaluate"/>. A first pass is written in one transaction committed
    /// before this returns (an answered pass is durable); known passes come from memory; deferrals
    /// are written a moment after the answer.
    /// </summary>
    /// <param name="clientAddress">The client's address, for network allow entries; null when the key is not address-based.</param>
    Task<GreylistResult> CheckAsync(Triplet triplet, IPAddress? clientAddress, DateTimeOffset now, GreylistOptions options, CancellationToken cancellationToken);

    /// <summary>
    /// Takes back the auto-whitelist pass that <see cref="CheckAsync"/> counted for
    /// <paramref name="triplet"/>'s first pass, when its message was then deferred at DATA for another
    /// recipient (per_message): the message comes back, and its retry counts. A store that counts
    /// nothing (<c>simulate</c> without <c>--record</c>) has nothing to take back.
    /// </summary>
    Task UncountAutoWhitelistPassAsync(Triplet triplet, CancellationToken cancellationToken) => Task.CompletedTask;
}
