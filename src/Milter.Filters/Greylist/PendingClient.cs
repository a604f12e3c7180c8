namespace Milter.Filters.Greylist;

/// <summary>A client key (<c>net:203.0.113.0/24</c>, <c>spf:example.org</c>) with its live pending triplets and the latest attempt.</summary>
public sealed record PendingClient(string Client, long Pending, DateTimeOffset LastSeen);
