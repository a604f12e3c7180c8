namespace MilterHost.Configuration;

/// <summary>Where the greylist and ban stores live.</summary>
public enum DatabaseKind { Sqlite, Postgres }
