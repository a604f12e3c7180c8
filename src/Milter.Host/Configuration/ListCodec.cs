using YamlDotNet.Core;

namespace MilterHost.Configuration;

/// <summary>
/// A YAML list. Items are named <c>path#N</c> (1-based, as in the <c>ban#3</c> rule ids) in
/// messages; a bad item is reported and the others are still checked. An empty value is an
/// empty list.
/// </summary>
/// <param name="finish">Gives an item what only the list knows: its 1-based number and position (rule ids).</param>
internal sealed class ListCodec<T>(Codec<T> item, bool flow, Func<T, int, YNode, T>? finish = null) : Codec<IReadOnlyList<T>>
{
    public override bool TryRead(Binder binder, YNode node, string path, out IReadOnlyList<T> value)
    {
        value = [];
        if (node is YScalar { IsNull: true })
            return true;
        if (node is not YSequence sequence)
        {
            binder.Error(node, $"{path}: expected a list, got {node.Describe()}");
            return false;
        }
        var items = new List<T>(sequence.Items.Count);
        var ok = true;
        for (var i = 0; i < sequence.Items.Count; i++)
        {
            var itemNode = sequence.Items[i];
            var itemPath = $"{path}#{i + 1}";
            binder.Remember(itemPath, itemNode);
            if (item.TryRead(binder, itemNode, itemPath, out var read))
                items.Add(finish is null ? read : finish(read, i + 1, itemNode));
            else
                ok = false;
        }
        value = items;
        return ok;
    }

    public override void Write(IEmitter emitter, IReadOnlyList<T> value)
    {
        Emit.SequenceStart(emitter, flow);
        foreach (var v in value)
            item.Write(emitter, v);
        Emit.SequenceEnd(emitter);
    }
}
