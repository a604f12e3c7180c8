namespace Milter.Filters.Stores;

// The dynamic_ban table as Dapper reads and writes it: columns and parameters bound by name.

/// <summary>A <c>dynamic_ban</c> row of <see cref="StoreSql.ListBans"/>.</summary>
internal sealed record BanRow(string Network, string Reason, string Source, long Created, long Expires);

/// <summary>The parameters of <see cref="StoreSql.UpsertBan"/>.</summary>
internal sealed record BanWrite(string Network, string Reason, string Source, long Created, long Expires, CancellationToken Cancel);

/// <summary>The parameter of <see cref="StoreSql.DeleteBan"/>.</summary>
internal sealed record BanKey(string Network, CancellationToken Cancel);
