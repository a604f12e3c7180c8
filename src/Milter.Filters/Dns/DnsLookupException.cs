namespace Milter.Filters.Dns;

/// <summary>No usable answer: every server failed (SERVFAIL, REFUSED, ...), was unreachable or too slow.</summary>
public sealed class DnsLookupException : Exception
{
    public DnsLookupException()
    {
    }

    public DnsLookupException(string message) : base(message)
    {
    }

    public DnsLookupException(string message, Exception innerException) : base(message, innerException)
    {
    }
}
