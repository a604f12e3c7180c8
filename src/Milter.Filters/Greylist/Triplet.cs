namespace Milter.Filters.Greylist;

/// <summary>
/// The greylisting key: client (a <see cref="ClientKey"/>), envelope sender and recipient, normalised
/// (<see cref="Create"/>). The null sender is the empty string.
/// </summary>
public readonly record struct Triplet
{
    internal Triplet(string client, string sender, string recipient)
    {
        Client = client;
        Sender = sender;
        Recipient = recipient;
        SenderDomain = EnvelopeAddress.DomainOf(sender);
    }

    /// <summary><c>net:203.0.113.0/24</c> or <c>spf:example.org</c>.</summary>
    public string Client { get; }

    /// <summary>The normalised sender; "" for <c>&lt;&gt;</c>.</summary>
    public string Sender { get; }

    /// <summary>The lowercased recipient.</summary>
    public string Recipient { get; }

    /// <summary>The sender's domain; "" for the null sender. Auto-whitelist entries are per (client, sender domain).</summary>
    public string SenderDomain { get; }

    public bool IsNullSender => Sender.Length == 0;

    /// <summary>
    /// Client, sender, recipient, each ordinally: the order every writer of triplet rows takes them
    /// in, on every host (rows locked in opposite orders by two MX hosts deadlock on PostgreSQL).
    /// </summary>
    internal static IComparer<Triplet> KeyOrder { get; } = Comparer<Triplet>.Create(static (a, b) =>
    {
        var c = string.CompareOrdinal(a.Client, b.Client);
        if (c == 0)
            c = string.CompareOrdinal(a.Sender, b.Sender);
        return c != 0 ? c : string.CompareOrdinal(a.Recipient, b.Recipient);
    });

    /// <summary>
    /// Whether this triplet's first pass adds a pass to its auto-whitelist entry: true, except for the
    /// further recipients of a message one of whose triplets already did (the auto-whitelist counts
    /// messages that came back, not recipients). Not part of the key: equality leaves it out.
    /// </summary>
    public bool AddsToAutoWhitelist { get; init; } = true;

    public bool Equals(Triplet other) =>
        string.Equals(Client, other.Client, StringComparison.Ordinal) && string.Equals(Sender, other.Sender, StringComparison.Ordinal)
        && string.Equals(Recipient, other.Recipient, StringComparison.Ordinal);

    public override int GetHashCode() => HashCode.Combine(Client, Sender, Recipient);

    /// <summary>A triplet from raw envelope values: BATV and SRS stripped, lowercased (see <see cref="EnvelopeAddress"/>).</summary>
    public static Triplet Create(string clientKey, string? sender, string recipient)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(clientKey);
        ArgumentNullException.ThrowIfNull(recipient);
        return new Triplet(clientKey, EnvelopeAddress.NormalizeSender(sender), EnvelopeAddress.NormalizeRecipient(recipient));
    }

    public override string ToString() => $"{Client} <{Sender}> <{Recipient}>";
}
