using Milter.Protocol.Replies;

namespace Milter.Filters.Recipients;

/// <summary>
/// What the recipient sources say about one local recipient: known (and by which source), or
/// unknown, with the reply an <c>error:</c> target set (null: the default 550 5.1.1).
/// </summary>
public sealed record RecipientLookup(bool Known, string? Source, SmtpReply? Reply = null)
{
    /// <summary>No source knows the recipient.</summary>
    public static RecipientLookup NotFound { get; } = new(false, null);

    public static RecipientLookup KnownBy(string source) => new(true, source);

    /// <summary>A source names the recipient with an <c>error:</c> target: unknown, with its reply.</summary>
    public static RecipientLookup Refused(string source, SmtpReply reply) => new(false, source, reply);
}
