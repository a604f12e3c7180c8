using System.Net;
using Milter.Filters.Configuration;
using Milter.Filters.Greylist;

namespace MilterHost.Simulation;

/// <summary>
/// The greylist as <c>simulate</c> sees it without <c>--record</c>: every check is answered by
/// <see cref="GreylistCheck.PreviewAsync"/> (the real decision, recording nothing).
/// </summary>
internal sealed class ReadOnlyGreylistCheck(GreylistCheck inner) : IGreylistCheck
{
    public Task<GreylistResult> CheckAsync(Triplet triplet, IPAddress? clientAddress, DateTimeOffset now, GreylistOptions options, CancellationToken cancellationToken) =>
        inner.PreviewAsync(triplet, clientAddress, now, options, cancellationToken);
}
