using System.Text.Json;

namespace Milter.Load;

/// <summary>One line of JSON per report, for bench/run.sh to pick apart.</summary>
internal static class Json
{
    private static readonly JsonSerializerOptions Options = new()
    {
        PropertyNamingPolicy = JsonNamingPolicy.CamelCase,
        DictionaryKeyPolicy = null,
    };

    public static string Write<T>(T value) => JsonSerializer.Serialize(value, Options);
}
