using Milter.Filters.Stats;

namespace MilterHost.Status;

/// <summary>The status page chart's decisions per hour and verdict, from the start of its first hour.</summary>
internal sealed record HourlyCounts(DateTimeOffset From, IReadOnlyList<HourlyCount> Rows);
