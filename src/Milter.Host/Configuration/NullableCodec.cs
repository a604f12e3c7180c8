using YamlDotNet.Core;

namespace MilterHost.Configuration;

/// <summary>An optional setting: <c>null</c>, <c>~</c> or nothing at all means "not set".</summary>
internal sealed class NullableCodec<T>(Codec<T> inner) : Codec<T?> where T : class
{
    public override bool TryRead(Binder binder, YNode node, string path, out T? value)
    {
        value = null;
        if (node is YScalar { IsNull: true })
            return true;
        var ok = inner.TryRead(binder, node, path, out var read);
        value = read;
        return ok;
    }

    public override void Write(IEmitter emitter, T? value)
    {
        if (value is null)
            Emit.Null(emitter);
        else
            inner.Write(emitter, value);
    }
}
