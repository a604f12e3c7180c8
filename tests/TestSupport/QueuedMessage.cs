namespace Milter.TestSupport;

/// <summary>
/// A message in a <see cref="PrivateSendmail"/> queue, read from its <c>qf</c> (or quarantined
/// <c>hf</c>) control file and its <c>df</c> body file.
/// </summary>
/// <param name="QueueId">The id sendmail gave it, as in <c>250 2.0.0 6AT2YQje009165 Message accepted for delivery</c>.</param>
/// <param name="Sender">The envelope sender without angle brackets; empty for the null sender.</param>
/// <param name="Recipients">The envelope recipients without angle brackets, in queue order.</param>
/// <param name="Headers">The headers in order, including those sendmail and any milter added.</param>
/// <param name="Body">The body with LF line ends, as stored.</param>
/// <param name="QuarantineReason">The reason a milter gave with QUARANTINE, or null.</param>
public sealed record QueuedMessage(
    string QueueId,
    string Sender,
    IReadOnlyList<string> Recipients,
    IReadOnlyList<QueuedHeader> Headers,
    string Body,
    string? QuarantineReason)
{
    /// <summary>The value of the first header named <paramref name="name"/> (case-insensitive), or null.</summary>
    public string? Header(string name) => HeaderValues(name).FirstOrDefault();

    /// <summary>The values of every header named <paramref name="name"/> (case-insensitive), in order.</summary>
    public IReadOnlyList<string> HeaderValues(string name) =>
        [.. Headers.Where(h => string.Equals(h.Name, name, StringComparison.OrdinalIgnoreCase)).Select(h => h.Value)];
}
