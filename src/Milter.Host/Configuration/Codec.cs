using YamlDotNet.Core;

namespace MilterHost.Configuration;

/// <summary>
/// Reads one kind of value from the YAML tree and writes it back, so the reader and the
/// effective-config printer share one schema and cannot drift apart.
/// </summary>
internal abstract class Codec<T>
{
    /// <summary>Reads the node; on a problem reports it to the binder and returns false.</summary>
    /// <param name="path">The setting's name for messages, e.g. <c>greylist.delay</c> or <c>ban#3</c>.</param>
    public abstract bool TryRead(Binder binder, YNode node, string path, out T value);

    public abstract void Write(IEmitter emitter, T value);
}
