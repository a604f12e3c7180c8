using Milter.Filters;
using YamlDotNet.Core;

namespace MilterHost.Configuration;

/// <summary>A filter's section as read, with the <c>mode:</c> written in it (null: not written).</summary>
internal readonly record struct Moded<T>(T Value, FilterMode? Mode);

/// <summary>The <c>mode:</c> key every filter's own section takes, read apart from the section's other keys.</summary>
internal static class ModeKey
{
    public const string Key = "mode";

    public static readonly Codec<FilterMode> Codec = Codecs.Enum<FilterMode>();

    /// <summary>
    /// Reads <c>mode:</c> out of a section's mapping and returns the mapping without it, for the
    /// section's own schema; any other node is returned as it is. A second <c>mode:</c> is an error.
    /// </summary>
    public static YNode Split(Binder binder, YNode node, string path, out FilterMode? mode, ref bool ok)
    {
        mode = null;
        if (node is not YMapping mapping || mapping.KeyNamed(Key) is null)
            return node;
        var rest = new List<KeyValuePair<YScalar, YNode>>(mapping.Entries.Count);
        YScalar? first = null;
        foreach (var entry in mapping.Entries)
        {
            if (entry.Key.Value != Key)
            {
                rest.Add(entry);
                continue;
            }
            if (first is not null)
            {
                binder.Error(entry.Key, $"duplicate key '{Key}' (first written at line {first.Line})");
                ok = false;
                continue;
            }
            first = entry.Key;
            var modePath = $"{path}.{Key}";
            binder.Remember(modePath, entry.Key);
            if (Codec.TryRead(binder, entry.Value, modePath, out var read))
                mode = read;
            else
                ok = false;
        }
        return mapping with { Entries = rest };
    }

    public static void Write(IEmitter emitter, FilterMode? mode)
    {
        if (mode is not { } m)
            return;
        Emit.Key(emitter, Key);
        Codec.Write(emitter, m);
    }
}

/// <summary>A filter's mapping section (<c>relay</c>, <c>greylist</c>, ...) that also takes <c>mode:</c>.</summary>
internal sealed class ModedSection<T>(Section<T> section) : Codec<Moded<T>> where T : class
{
    public override bool TryRead(Binder binder, YNode node, string path, out Moded<T> value)
    {
        var ok = true;
        var rest = ModeKey.Split(binder, node, path, out var mode, ref ok);
        ok &= section.TryRead(binder, rest, path, out var read);
        value = new Moded<T>(read, mode);
        return ok;
    }

    public override void Write(IEmitter emitter, Moded<T> value)
    {
        Emit.MappingStart(emitter, flow: false);
        ModeKey.Write(emitter, value.Mode);
        section.WriteFields(emitter, value.Value);
        Emit.MappingEnd(emitter);
    }
}

/// <summary>
/// A filter's section that is a list (<c>ban</c>, <c>dns_lists</c>): the list as it is, or, to give
/// it a mode, a mapping of <c>mode:</c> and the list under <paramref name="listKey"/>
/// (<c>ban: { mode: monitor, rules: [...] }</c>). Items keep their names (<c>ban#3</c>) either way.
/// </summary>
internal sealed class ModedList<T>(Codec<IReadOnlyList<T>> list, string listKey) : Codec<Moded<IReadOnlyList<T>>>
{
    public override bool TryRead(Binder binder, YNode node, string path, out Moded<IReadOnlyList<T>> value)
    {
        if (node is not YMapping)
        {
            var read = list.TryRead(binder, node, path, out var items);
            value = new Moded<IReadOnlyList<T>>(items, null);
            return read;
        }
        var ok = true;
        var rest = (YMapping)ModeKey.Split(binder, node, path, out var mode, ref ok);
        IReadOnlyList<T> found = [];
        var seen = false;
        foreach (var (key, itemNode) in rest.Entries)
        {
            if (key.Value != listKey || seen)
            {
                binder.Error(key, key.Value == listKey
                    ? $"duplicate key '{listKey}' in {path}"
                    : $"unknown key '{key.Value}' in {path}: write a list, or {{ {ModeKey.Key}: ..., {listKey}: [...] }}");
                ok = false;
                continue;
            }
            seen = true;
            ok &= list.TryRead(binder, itemNode, path, out found);
        }
        value = new Moded<IReadOnlyList<T>>(found, mode);
        return ok;
    }

    public override void Write(IEmitter emitter, Moded<IReadOnlyList<T>> value)
    {
        if (value.Mode is null)
        {
            list.Write(emitter, value.Value);
            return;
        }
        Emit.MappingStart(emitter, flow: false);
        ModeKey.Write(emitter, value.Mode);
        Emit.Key(emitter, listKey);
        list.Write(emitter, value.Value);
        Emit.MappingEnd(emitter);
    }
}
