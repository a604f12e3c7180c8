using Milter.TestSupport;

namespace EndToEnd.Tests;

/// <summary>One sendmail with the default options, shared by the tests of <see cref="DefaultSendmailCollection"/>.</summary>
public sealed class DefaultSendmailFixture : SendmailFixture;

[CollectionDefinition(Name)]
public sealed class DefaultSendmailCollection : ICollectionFixture<DefaultSendmailFixture>
{
    public const string Name = "default sendmail";
}
