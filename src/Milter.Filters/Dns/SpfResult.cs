namespace Milter.Filters.Dns;

/// <summary>The results of an SPF check (RFC 7208 section 2.6), as <c>simulate</c> and the log print them.</summary>
public enum SpfResult
{
    /// <summary>The domain publishes no SPF record.</summary>
    None,
    Neutral,
    /// <summary>The domain authorises the client address.</summary>
    Pass,
    Fail,
    SoftFail,
    /// <summary>A DNS failure or timeout; the same check may pass later.</summary>
    TempError,
    /// <summary>The record is broken: syntax, two records, over the 10-lookup limit, an include loop.</summary>
    PermError,
}
