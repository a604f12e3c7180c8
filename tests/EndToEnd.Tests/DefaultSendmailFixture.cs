using Milter.TestSupport;

namespace EndToEnd.Tests;

/// <summary>One sendmail with the default options, shared by the tests of <see cref="DefaultSendmailCollection"/>.</summary>
public sealed class DefaultSendmailFixture : IAsyncLifetime
{
    private PrivateSendmail? _sendmail;

    public PrivateSendmail Sendmail => _sendmail ?? throw new InvalidOperationException("The fixture has not started.");

    public async Task InitializeAsync() => _sendmail = await PrivateSendmail.StartNewAsync(new SendmailOptions());

    public async Task DisposeAsync()
    {
        if (_sendmail is not null)
        {
            await _sendmail.DisposeAsync();
        }
    }
}

[CollectionDefinition(Name)]
public sealed class DefaultSendmailCollection : ICollectionFixture<DefaultSendmailFixture>
{
    public const string Name = "default sendmail";
}
