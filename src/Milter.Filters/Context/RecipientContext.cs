using Milter.Filters.Relay;

namespace Milter.Filters.Context;

/// <summary>One RCPT TO as the filters see it.</summary>
/// <param name="Address">The recipient without angle brackets, as the client wrote it.</param>
/// <param name="Mailer">sendmail's <c>{rcpt_mailer}</c> (<c>local</c>, <c>esmtp</c>, <c>relay</c>, <c>error</c>), when sent.</param>
public sealed record RecipientContext(string Address, string? Mailer = null)
{
    private RecipientAddress? _parsed;
    private string? _parsedFrom;

    /// <summary>
    /// The address taken apart as <see cref="RecipientAddress.Parse"/> does, once for every filter
    /// of the chain that needs it (relay, recipients, bans).
    /// </summary>
    public RecipientAddress Parsed
    {
        get
        {
            // A copy made with `with` carries the field along: parse again when the address changed.
            if (_parsed is null || !ReferenceEquals(_parsedFrom, Address))
            {
                _parsed = RecipientAddress.Parse(Address);
                _parsedFrom = Address;
            }
            return _parsed;
        }
    }

    // The parse is a cache of Address, not part of the value.
    public bool Equals(RecipientContext? other) =>
        other is not null && string.Equals(Address, other.Address, StringComparison.Ordinal) && string.Equals(Mailer, other.Mailer, StringComparison.Ordinal);

    public override int GetHashCode() => HashCode.Combine(Address, Mailer);
}
