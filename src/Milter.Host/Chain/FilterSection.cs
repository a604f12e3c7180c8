using MilterHost.Configuration;

namespace MilterHost.Chain;

/// <summary>
/// The YAML section of a plug-in filter, key by key, bound to its options record (a
/// <c>sealed record</c> with <c>init</c> properties and defaults): unknown keys, duplicates and
/// values out of range are errors with file:line:column, keys not written keep the defaults. No
/// reflection: each key names its getter and its <c>with</c> setter.
/// </summary>
public sealed class FilterSection<TOptions> where TOptions : class
{
    /// <param name="defaults">A record with the defaults.</param>
    public FilterSection(Func<TOptions> defaults)
    {
        ArgumentNullException.ThrowIfNull(defaults);
        Defaults = defaults;
        Schema = new Section<TOptions>(defaults);
    }

    internal Func<TOptions> Defaults { get; }

    internal Section<TOptions> Schema { get; }

    /// <summary>A whole number from <paramref name="min"/> to <paramref name="max"/>.</summary>
    public FilterSection<TOptions> Integer(string key, int min, int max, Func<TOptions, int> get, Func<TOptions, int, TOptions> set) =>
        Add(key, Codecs.Integer(min, max), get, set);

    /// <summary><c>true</c> or <c>false</c>.</summary>
    public FilterSection<TOptions> Boolean(string key, Func<TOptions, bool> get, Func<TOptions, bool, TOptions> set) =>
        Add(key, Codecs.Bool, get, set);

    /// <summary>Text that is not empty (an SMTP reply's words, a header's value).</summary>
    public FilterSection<TOptions> Text(string key, Func<TOptions, string> get, Func<TOptions, string, TOptions> set) =>
        Add(key, Codecs.Text, get, set);

    /// <summary>A duration: <c>30s</c>, <c>5m</c>, <c>36d</c>.</summary>
    public FilterSection<TOptions> Duration(string key, Func<TOptions, TimeSpan> get, Func<TOptions, TimeSpan, TOptions> set) =>
        Add(key, Codecs.Duration, get, set);

    private FilterSection<TOptions> Add<TValue>(string key, Codec<TValue> codec, Func<TOptions, TValue> get, Func<TOptions, TValue, TOptions> set)
    {
        if (!FilterSection.IsKey(key))
            throw new ArgumentException($"'{key}' is not a YAML key: lower-case letters, digits and '_'", nameof(key));
        Schema.Field(key, codec, get, set);
        return this;
    }
}

/// <summary>What a filter name or section key may be.</summary>
internal static class FilterSection
{
    public static bool IsKey(string text) =>
        text.Length is > 0 and <= 64 && char.IsAsciiLetterLower(text[0]) && text.All(c => char.IsAsciiLetterLower(c) || char.IsAsciiDigit(c) || c == '_');
}
