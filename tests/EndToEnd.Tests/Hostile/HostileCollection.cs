namespace EndToEnd.Tests.Hostile;

/// <summary>
/// The hostile-peer and fault tests run one at a time and apart from the rest: they measure a
/// daemon's memory and descriptors, open thousands of sockets, and stop stores.
/// </summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class HostileCollection
{
    public const string Name = "Hostile";
}
