namespace Milter.Filters.Greylist;

/// <summary>What <see cref="GreylistPolicy.Evaluate"/> decided, and the entry the store must write for it.</summary>
public sealed record GreylistEvaluation(GreylistResult Result, TripletEntry Entry);
