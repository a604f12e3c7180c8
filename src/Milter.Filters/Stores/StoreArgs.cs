namespace Milter.Filters.Stores;

// Parameter records shared by the stores' statements. Each member binds the SQL parameter of the same
// name (@Now, @Batch, ...); a CancellationToken member is not a parameter but cancels the command.

/// <summary>Expired rows up to <see cref="Now"/>, at most <see cref="Batch"/> of them per statement.</summary>
internal sealed record SweepArgs(long Now, long Batch, CancellationToken Cancel);

/// <summary>Rows alive at <see cref="Now"/> (Unix seconds).</summary>
internal sealed record NowArgs(long Now, CancellationToken Cancel);

/// <summary>One row of a table keyed by name.</summary>
internal sealed record NameArgs(string Name, CancellationToken Cancel);

/// <summary>No parameters: only the token that cancels the command.</summary>
internal sealed record CancelArgs(CancellationToken Cancel);
