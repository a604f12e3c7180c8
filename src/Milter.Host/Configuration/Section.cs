using YamlDotNet.Core;

namespace MilterHost.Configuration;

/// <summary>
/// A YAML mapping bound to an options record: each known key has a codec and a <c>with</c>
/// setter; unknown keys are errors (a typo must never silently leave a filter at its default);
/// a key written twice is an error; keys not written keep the record's defaults.
/// </summary>
/// <param name="create">A record with the defaults.</param>
/// <param name="flow">Print as <c>{ key: value }</c> on one line (ban rules, DNS lists).</param>
internal sealed class Section<T>(Func<T> create, bool flow = false) : Codec<T> where T : class
{
    private readonly List<IField> _fields = [];
    private readonly List<string> _required = [];
    private readonly List<Action<Binder, YMapping, string, T>> _checks = [];

    private interface IField
    {
        string Key { get; }
        bool TryRead(Binder binder, YNode node, string path, ref T target);
        void Write(IEmitter emitter, T source);
    }

    public Section<T> Field<TValue>(string key, Codec<TValue> codec, Func<T, TValue> get, Func<T, TValue, T> set)
    {
        _fields.Add(new KeyField<TValue>(key, codec, get, set));
        return this;
    }

    /// <summary>The key must be written (there is no sensible default).</summary>
    public Section<T> Require(string key)
    {
        _required.Add(key);
        return this;
    }

    /// <summary>A rule across keys (e.g. retry_window longer than delay), run after the keys were read.</summary>
    public Section<T> Check(Action<Binder, YMapping, string, T> check)
    {
        _checks.Add(check);
        return this;
    }

    public override bool TryRead(Binder binder, YNode node, string path, out T value)
    {
        value = create();
        if (node is YScalar { IsNull: true } && _required.Count == 0)
            return true;
        if (node is not YMapping mapping)
        {
            binder.Error(node, $"{(path.Length == 0 ? "the configuration" : path)}: expected a mapping of keys, got {node.Describe()}");
            return false;
        }
        var ok = true;
        var seen = new Dictionary<string, YScalar>(StringComparer.Ordinal);
        foreach (var (key, valueNode) in mapping.Entries)
        {
            if (seen.TryGetValue(key.Value, out var first))
            {
                binder.Error(key, $"duplicate key '{key.Value}' (first written at line {first.Line})");
                ok = false;
                continue;
            }
            seen[key.Value] = key;
            var field = _fields.Find(f => f.Key == key.Value);
            if (field is null)
            {
                var where = path.Length == 0 ? "" : " in " + path;
                var hint = Suggest.Closest(key.Value, _fields.Select(f => f.Key)) is { } s ? $" (did you mean '{s}'?)" : "";
                binder.Error(key, $"unknown key '{key.Value}'{where}{hint}");
                ok = false;
                continue;
            }
            var fieldPath = path.Length == 0 ? key.Value : $"{path}.{key.Value}";
            binder.Remember(fieldPath, key);
            ok &= field.TryRead(binder, valueNode, fieldPath, ref value);
        }
        foreach (var key in _required.Where(k => !seen.ContainsKey(k)))
        {
            binder.Error(mapping, $"{path}: '{key}' is required");
            ok = false;
        }
        foreach (var check in _checks)
            check(binder, mapping, path, value);
        return ok;
    }

    public override void Write(IEmitter emitter, T value)
    {
        Emit.MappingStart(emitter, flow);
        WriteFields(emitter, value);
        Emit.MappingEnd(emitter);
    }

    /// <summary>The keys and values alone, for a mapping that holds more than this section (<see cref="ModedSection{T}"/>).</summary>
    public void WriteFields(IEmitter emitter, T value)
    {
        foreach (var field in _fields)
            field.Write(emitter, value);
    }

    private sealed class KeyField<TValue>(string key, Codec<TValue> codec, Func<T, TValue> get, Func<T, TValue, T> set) : IField
    {
        public string Key => key;

        public bool TryRead(Binder binder, YNode node, string path, ref T target)
        {
            if (!codec.TryRead(binder, node, path, out var value))
                return false;
            target = set(target, value);
            return true;
        }

        public void Write(IEmitter emitter, T source)
        {
            Emit.Key(emitter, key);
            codec.Write(emitter, get(source));
        }
    }
}
