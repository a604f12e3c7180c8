namespace Milter.Filters.Stores;

/// <summary>
/// The rows of a buffered Dapper query as a list. Not Dapper's <c>AsList</c>: that is a method of
/// <c>SqlMapper</c>, and calling it keeps SqlMapper's static constructor (type maps built by
/// reflection) in the native AOT build, which the trim analysis then refuses.
/// </summary>
internal static class StoreRows
{
    public static IReadOnlyList<T> List<T>(IEnumerable<T> rows) => rows as IReadOnlyList<T> ?? [.. rows];
}
