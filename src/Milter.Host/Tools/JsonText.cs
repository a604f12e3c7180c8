using System.Text;
using System.Text.Json;

namespace MilterHost.Tools;

/// <summary>The <c>--json</c> output of the admin commands: one indented JSON document.</summary>
internal static class JsonText
{
    public static string Write(Action<Utf8JsonWriter> write)
    {
        ArgumentNullException.ThrowIfNull(write);
        using var buffer = new MemoryStream();
        using (var json = new Utf8JsonWriter(buffer, new JsonWriterOptions { Indented = true }))
            write(json);
        return Encoding.UTF8.GetString(buffer.ToArray());
    }

    /// <summary>A time as ISO 8601 in UTC, or null.</summary>
    public static void WriteTime(this Utf8JsonWriter json, string name, DateTimeOffset? time)
    {
        if (time is { } t)
            json.WriteString(name, t.ToUniversalTime());
        else
            json.WriteNull(name);
    }
}
