namespace MilterHost.Configuration;

public sealed record SocketOptions
{
    /// <summary>Octal file mode of the Unix socket.</summary>
    public string Mode { get; init; } = "0660";
    /// <summary>Group owning the Unix socket (sendmail's <c>smmsp</c>); null: leave as created.</summary>
    public string? Group { get; init; }
}
