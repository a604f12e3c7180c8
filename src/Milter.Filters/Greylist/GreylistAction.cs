namespace Milter.Filters.Greylist;

/// <summary>What greylisting says about one triplet.</summary>
public enum GreylistAction
{
    Pass,
    /// <summary>Answer <c>451 4.7.1 Greylisted, please retry in N seconds</c>.</summary>
    Defer,
}
