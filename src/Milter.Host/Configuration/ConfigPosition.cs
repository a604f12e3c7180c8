namespace MilterHost.Configuration;

/// <summary>Where a setting was written: 1-based line and column in the configuration file.</summary>
public readonly record struct ConfigPosition(int Line, int Column)
{
    public override string ToString() => $"{Line}:{Column}";
}
