using System.Reflection;
using Microsoft.Extensions.Logging;
using Xunit;

namespace TestSupport;

/// <summary>The event ids of an assembly's <c>[LoggerMessage]</c> methods, and the constants of its event-id table.</summary>
public static class LogEventIds
{
    /// <summary>Each <c>[LoggerMessage]</c> method of the assembly with its event id, as <c>Type.Method</c>.</summary>
    public static IReadOnlyList<(int Id, string Method)> Used(Assembly assembly) =>
    [
        .. from type in assembly.GetTypes()
           from method in type.GetMethods(BindingFlags.Static | BindingFlags.Instance | BindingFlags.Public | BindingFlags.NonPublic | BindingFlags.DeclaredOnly)
           let attribute = method.GetCustomAttribute<LoggerMessageAttribute>()
           where attribute is not null
           select (attribute.EventId, $"{type.Name}.{method.Name}"),
    ];

    /// <summary>The <c>const int</c> fields of the table type, by name.</summary>
    public static IReadOnlyDictionary<string, int> Table(Type table) =>
        table.GetFields(BindingFlags.Static | BindingFlags.Public | BindingFlags.NonPublic)
            .Where(f => f.IsLiteral && f.FieldType == typeof(int))
            .ToDictionary(f => f.Name, f => (int)f.GetRawConstantValue()!);

    /// <summary>Ids that two or more methods share, with the methods; empty when every id names one kind of line.</summary>
    public static IReadOnlyList<string> Shared(Assembly assembly) =>
        [.. Used(assembly).GroupBy(u => u.Id).Where(g => g.Count() > 1).Select(g => $"{g.Key}: {string.Join(", ", g.Select(u => u.Method))}")];

    /// <summary>
    /// Asserts that the assembly of <paramref name="table"/> logs with exactly the ids its const fields
    /// declare, each id naming one kind of line.
    /// </summary>
    public static void AssertOneTable(Type table)
    {
        Assert.Empty(Shared(table.Assembly));
        var declared = Table(table);
        Assert.Equal(declared.Count, declared.Values.Distinct().Count());
        Assert.Equal(declared.Values.Order().ToList(), Used(table.Assembly).Select(u => u.Id).Order().ToList());
    }
}
