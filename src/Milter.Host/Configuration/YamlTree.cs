using YamlDotNet.Core;
using YamlDotNet.Core.Events;

namespace MilterHost.Configuration;

/// <summary>A YAML node with the 1-based line and column where it starts.</summary>
internal abstract record YNode(int Line, int Column)
{
    /// <summary>What the node is, for "expected X, got Y" messages.</summary>
    public abstract string Describe();
}

internal sealed record YScalar(int Line, int Column, string Value, ScalarStyle Style, bool Tagged) : YNode(Line, Column)
{
    /// <summary>An untagged plain <c>null</c>, <c>~</c> or nothing at all; a quoted "null" is text.</summary>
    public bool IsNull => Style == ScalarStyle.Plain && !Tagged && Value is "" or "~" or "null" or "Null" or "NULL";

    /// <summary>Only plain, quoted-without-escapes scalars on one line map text offsets to columns.</summary>
    public int? ColumnOf(int offset) => Style switch
    {
        ScalarStyle.Plain when !Value.Contains('\n') => Column + offset,
        ScalarStyle.SingleQuoted when !Value.Contains('\'') && !Value.Contains('\n') => Column + 1 + offset,
        ScalarStyle.DoubleQuoted when !Value.Contains('\\') && !Value.Contains('"') && !Value.Contains('\n') => Column + 1 + offset,
        _ => null,
    };

    public override string Describe() => IsNull ? "nothing" : $"'{Value}'";
}

internal sealed record YSequence(int Line, int Column, IReadOnlyList<YNode> Items) : YNode(Line, Column)
{
    public override string Describe() => "a list";
}

internal sealed record YMapping(int Line, int Column, IReadOnlyList<KeyValuePair<YScalar, YNode>> Entries) : YNode(Line, Column)
{
    /// <summary>The first key written with that name, for errors about it.</summary>
    public YScalar? KeyNamed(string key) => Entries.FirstOrDefault(e => e.Key.Value == key).Key;

    public override string Describe() => "a mapping";
}

/// <summary>
/// Builds a <see cref="YNode"/> tree from YamlDotNet's parser events, so every value keeps its
/// position and the binder, not the deserializer, decides what is an error. Duplicate keys are kept
/// for the binder to report; aliases share the anchored node.
/// </summary>
internal sealed class YamlTree
{
    // A config file has a handful of levels; this bound only stops a hostile "[[[[..." from
    // recursing deep enough to overflow the stack.
    private const int MaxDepth = 64;

    private readonly IParser _parser;
    private readonly Dictionary<string, YNode> _anchors = new(StringComparer.Ordinal);
    private readonly List<(int Line, int Column, string Message)> _errors = [];

    private YamlTree(IParser parser) => _parser = parser;

    /// <summary>
    /// Parses one document. Returns the root (null for an empty file) and the errors found; a syntax
    /// error ends parsing, so it is the last error.
    /// </summary>
    public static (YNode? Root, IReadOnlyList<(int Line, int Column, string Message)> Errors) Parse(string text)
    {
        var tree = new YamlTree(new Parser(new Scanner(new StringReader(text), skipComments: true)));
        YNode? root = null;
        try
        {
            root = tree.ReadStream();
        }
        catch (YamlException ex) when (ex.Message.Contains("tab", StringComparison.OrdinalIgnoreCase) && TabIndentation(text, ex.Start) is { } tab)
        {
            // YamlDotNet blames the start of the mapping, or the end of the line before: say where the tab is.
            tree._errors.Add((tab.Line, tab.Column, "YAML syntax error: a tab in the indentation; YAML indents with spaces only"));
            root = null;
        }
        catch (YamlException ex)
        {
            tree.Add(ex.Start, "YAML syntax error: " + ex.Message.TrimEnd('.') + HintFor(ex.Message));
            root = null;
        }
        catch (InvalidOperationException)
        {
            // YamlDotNet's scanner throws this on some malformed flow collections; the last event
            // it produced is the best position we have.
            var at = tree._parser.Current?.Start ?? Mark.Empty;
            tree.Add(at, "YAML syntax error: malformed flow collection" + FlowHint);
            root = null;
        }
        return (root, tree._errors);
    }

    private const string FlowHint = "; a [ or { is not closed with its ] or }, or a ',' is missing between two items";

    /// <summary>What usually causes YamlDotNet's message in a hand-written file, and how to write it instead.</summary>
    private static string HintFor(string message) => message switch
    {
        _ when message.Contains("invalid mapping", StringComparison.Ordinal) || message.Contains("mapping values are not allowed", StringComparison.Ordinal) =>
            "; a value with ': ' in it is written in quotes (reply: \"550 5.7.1 No: go away\"), and a key lines up with the keys beside it",
        _ when message.Contains("did not find expected key", StringComparison.Ordinal) =>
            "; the keys of one section line up: this line is indented differently from the key above it",
        _ when message.Contains("cannot start any token", StringComparison.Ordinal) =>
            "; a value that starts with @, `, % or | is written in quotes: \"@example.com\"",
        _ when message.Contains("quoted scalar", StringComparison.Ordinal) =>
            "; a quote opened here is not closed on this line",
        _ when message.Contains("flow sequence", StringComparison.Ordinal) || message.Contains("flow mapping", StringComparison.Ordinal) => FlowHint,
        _ => "",
    };

    private YNode? ReadStream()
    {
        _parser.Consume<StreamStart>();
        if (_parser.Accept<StreamEnd>(out _))
            return null;
        _parser.Consume<DocumentStart>();
        var root = ReadNode(0);
        _parser.Consume<DocumentEnd>();
        if (_parser.Accept<DocumentStart>(out var second))
            Add(second.Start, "only one YAML document is allowed in the configuration");
        return root;
    }

    private YNode ReadNode(int depth)
    {
        var start = _parser.Current ?? throw new YamlException("unexpected end of stream");
        if (depth > MaxDepth)
            throw new YamlException(start.Start, start.End, $"nesting deeper than {MaxDepth} levels");
        switch (start)
        {
            case AnchorAlias alias:
                _parser.MoveNext();
                if (_anchors.TryGetValue(alias.Value.Value, out var target))
                    return target;
                Add(alias.Start, $"alias '*{alias.Value.Value}' refers to no anchor above it; a value that starts with * is written in quotes: \"*{alias.Value.Value}\"");
                return new YScalar(Line(alias.Start), Column(alias.Start), "", ScalarStyle.Plain, Tagged: false);
            case Scalar scalar:
                _parser.MoveNext();
                return Remember(scalar, new YScalar(Line(scalar.Start), Column(scalar.Start), scalar.Value, scalar.Style, !scalar.Tag.IsEmpty && !scalar.Tag.IsNonSpecific));
            case SequenceStart sequence:
            {
                _parser.MoveNext();
                var items = new List<YNode>();
                while (!_parser.Accept<SequenceEnd>(out _))
                    items.Add(ReadNode(depth + 1));
                _parser.MoveNext();
                return Remember(sequence, new YSequence(Line(sequence.Start), Column(sequence.Start), items));
            }
            case MappingStart mapping:
            {
                _parser.MoveNext();
                var entries = new List<KeyValuePair<YScalar, YNode>>();
                while (!_parser.Accept<MappingEnd>(out _))
                {
                    var keyNode = ReadNode(depth + 1);
                    var value = ReadNode(depth + 1);
                    if (keyNode is YScalar key)
                        entries.Add(new(key, value));
                    else
                        _errors.Add((keyNode.Line, keyNode.Column, "a key must be a plain word, not " + keyNode.Describe()));
                }
                _parser.MoveNext();
                return Remember(mapping, new YMapping(Line(mapping.Start), Column(mapping.Start), entries));
            }
            default:
                throw new YamlException(start.Start, start.End, $"unexpected {start.GetType().Name}");
        }
    }

    /// <summary>The first tab among a line's leading blanks, from the line of <paramref name="from"/> on (1-based).</summary>
    private static (int Line, int Column)? TabIndentation(string text, Mark from)
    {
        var lines = text.Split('\n');
        for (var i = Math.Max(0, Line(from) - 1); i < lines.Length; i++)
        {
            var line = lines[i];
            var indent = line.Length - line.TrimStart(' ', '\t').Length;
            var tab = line.IndexOf('\t', 0, indent);
            if (tab >= 0)
                return (i + 1, tab + 1);
        }
        return null;
    }

    private static int Line(Mark mark) => (int)Math.Clamp(mark.Line, 1, int.MaxValue);

    private static int Column(Mark mark) => (int)Math.Clamp(mark.Column, 1, int.MaxValue);

    private void Add(Mark at, string message) => _errors.Add((Line(at), Column(at), message));

    private YNode Remember(NodeEvent e, YNode node)
    {
        if (!e.Anchor.IsEmpty)
            _anchors[e.Anchor.Value] = node;
        return node;
    }
}
