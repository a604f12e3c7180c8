using Xunit;

namespace Milter.TestSupport;

/// <summary>
/// An xunit fixture owning one <see cref="PrivateSendmail"/>, for class or collection fixtures that
/// share a started sendmail between tests. Override <see cref="CreateOptions"/> to configure it.
/// </summary>
/// <example>
/// <code>
/// public sealed class MilterFixture : SendmailFixture
/// {
///     protected override SendmailOptions CreateOptions(string sandbox) =>
///         new() { MilterSocket = $"unix:{Path.Combine(sandbox, "milter.sock")}" };
/// }
/// </code>
/// </example>
public class SendmailFixture : IAsyncLifetime
{
    private PrivateSendmail? _sendmail;

    /// <summary>The started sendmail.</summary>
    public PrivateSendmail Sendmail => _sendmail ?? throw new InvalidOperationException("The fixture has not been initialised.");

    /// <inheritdoc/>
    public async Task InitializeAsync()
    {
        _sendmail = await PrivateSendmail.CreateAsync();
        await _sendmail.StartAsync(CreateOptions(_sendmail.Directory));
    }

    /// <inheritdoc/>
    public virtual async Task DisposeAsync()
    {
        if (_sendmail is not null)
        {
            await _sendmail.DisposeAsync();
        }
    }

    /// <summary>The options to start with; <paramref name="sandbox"/> is the sandbox directory (for a milter socket).</summary>
    protected virtual SendmailOptions CreateOptions(string sandbox) => new();
}
