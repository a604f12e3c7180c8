namespace Milter.Filters.Greylist;

/// <summary>Where a triplet stands. Stored as its number.</summary>
public enum TripletState
{
    /// <summary>Seen, answered 451, waiting for a retry after the delay.</summary>
    Pending = 0,
    /// <summary>Retried in time; passes until <see cref="TripletEntry.Expires"/>, extended on use.</summary>
    Passed = 1,
}
