using YamlDotNet.Core;

namespace MilterHost.Configuration;

/// <summary>Parses a scalar's text; on a problem reports it (with the best position it knows) and returns false.</summary>
internal delegate bool ScalarParser<T>(Binder binder, YScalar scalar, string path, out T value);

/// <summary>A single value written as one YAML scalar.</summary>
/// <param name="expected">What belongs here, for "expected X, got a list" (e.g. <c>a duration like 2m</c>).</param>
/// <param name="plain">Write unquoted: numbers, booleans, durations; strings are quoted only where needed.</param>
internal sealed class ScalarCodec<T>(string expected, ScalarParser<T> parse, Func<T, string> format, bool plain = false) : Codec<T>
{
    public override bool TryRead(Binder binder, YNode node, string path, out T value)
    {
        value = default!;
        return binder.TryScalar(node, path, expected, out var scalar) && parse(binder, scalar, path, out value);
    }

    public override void Write(IEmitter emitter, T value)
    {
        if (plain)
            Emit.Plain(emitter, format(value));
        else
            Emit.Text(emitter, format(value));
    }
}
