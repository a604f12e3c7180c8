namespace Milter.Filters.Recipients;

/// <summary>A user as NSS knows it (<see cref="LocalAccounts.Find"/>).</summary>
public sealed record LocalAccount(string Name, uint Uid, uint Gid, string Home);
