namespace Milter.Filters.Relay;

/// <summary>
/// Who submitted a session on this host cannot be told (no socket in the kernel's table, no
/// Received line of the submission program, an account NSS does not know): the chain answers per
/// <c>on_error</c> and logs the message.
/// </summary>
public sealed class LocalUserUnknownException : Exception
{
    public LocalUserUnknownException()
    {
    }

    public LocalUserUnknownException(string message) : base(message)
    {
    }

    public LocalUserUnknownException(string message, Exception innerException) : base(message, innerException)
    {
    }
}
