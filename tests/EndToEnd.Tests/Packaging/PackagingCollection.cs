namespace EndToEnd.Tests.Packaging;

/// <summary>The packaging tests share one build and run one after another (one of them installs the deb).</summary>
[CollectionDefinition(Name)]
public sealed class PackagingCollection : ICollectionFixture<PackageBuildFixture>
{
    public const string Name = "packaging";
}
