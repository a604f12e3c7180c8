namespace Milter.Filters.Greylist;

/// <summary>
/// The stored state of one triplet. <see cref="Expires"/> is the end of the retry window while
/// pending and <c>pass_lifetime</c> after the last use once passed; an expired entry counts as unseen.
/// </summary>
/// <param name="Deferrals">How often the triplet was answered 451 before it passed.</param>
public sealed record TripletEntry(
    Triplet Triplet,
    TripletState State,
    DateTimeOffset FirstSeen,
    DateTimeOffset LastSeen,
    DateTimeOffset Expires,
    int Deferrals);
