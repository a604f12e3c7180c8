namespace Milter.Filters.Dns;

/// <summary>What the SPF record of <paramref name="Domain"/> says about the client address.</summary>
public sealed record SpfCheck(string Domain, SpfResult Result)
{
    public override string ToString() => $"{Result.ToString().ToLowerInvariant()} ({Domain})";
}
