namespace Milter.Filters;

/// <summary>
/// Whether a filter's decisions are applied (<see cref="Enforce"/>) or only computed, logged and
/// counted while the MTA is told to continue (<see cref="Monitor"/>): the YAML <c>mode:</c>, at the
/// top level and in each filter's own section.
/// </summary>
public enum FilterMode
{
    Enforce,
    Monitor,
}

/// <summary>The names of <see cref="FilterMode"/> as the YAML, the decision log, /metrics and the status page write them.</summary>
public static class FilterModeNames
{
    public const string Enforce = "enforce";
    public const string Monitor = "monitor";

    /// <summary>The mode a decision was made in: <c>monitor</c> when it was not applied.</summary>
    public static string Of(Decision decision)
    {
        ArgumentNullException.ThrowIfNull(decision);
        return decision.Applied ? Enforce : Monitor;
    }
}
