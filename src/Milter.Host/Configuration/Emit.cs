using System.Text.RegularExpressions;
using YamlDotNet.Core;
using YamlDotNet.Core.Events;

namespace MilterHost.Configuration;

/// <summary>Small helpers over YamlDotNet's emitter for the effective-config printer.</summary>
internal static partial class Emit
{
    /// <summary>A value whose type is obvious to any YAML reader (numbers, booleans, durations).</summary>
    public static void Plain(IEmitter emitter, string text) =>
        emitter.Emit(new Scalar(AnchorName.Empty, TagName.Empty, text, ScalarStyle.Plain, true, false));

    /// <summary>
    /// A string: plain where that reads back as the same string in any YAML 1.1 or 1.2 reader,
    /// single-quoted where a plain "0660", "yes" or "null" would be taken for a number, boolean or
    /// nothing. The emitter itself quotes text that cannot be plain at all.
    /// </summary>
    public static void Text(IEmitter emitter, string text) =>
        emitter.Emit(new Scalar(AnchorName.Empty, TagName.Empty, text,
            LooksTyped(text) ? ScalarStyle.SingleQuoted : ScalarStyle.Any, true, true));

    public static void Null(IEmitter emitter) => Plain(emitter, "null");

    public static void Key(IEmitter emitter, string key) => Plain(emitter, key);

    public static void MappingStart(IEmitter emitter, bool flow) =>
        emitter.Emit(new MappingStart(AnchorName.Empty, TagName.Empty, true, flow ? MappingStyle.Flow : MappingStyle.Block));

    public static void MappingEnd(IEmitter emitter) => emitter.Emit(new MappingEnd());

    public static void SequenceStart(IEmitter emitter, bool flow) =>
        emitter.Emit(new SequenceStart(AnchorName.Empty, TagName.Empty, true, flow ? SequenceStyle.Flow : SequenceStyle.Block));

    public static void SequenceEnd(IEmitter emitter) => emitter.Emit(new SequenceEnd());

    private static bool LooksTyped(string text) => text.Length == 0 || TypedScalar().IsMatch(text);

    // YAML 1.1 and 1.2 core-schema nulls, booleans, and numbers (decimal, octal, hex, float, sexagesimal).
    [GeneratedRegex(@"^(~|null|true|false|yes|no|on|off|y|n|[-+]?(\.inf|\.nan)|[-+]?[0-9][0-9_]*(\.[0-9_]*)?([eE][-+]?[0-9]+)?|[-+]?\.[0-9]+([eE][-+]?[0-9]+)?|0x[0-9a-f_]+|0o[0-7]+|0b[01_]+|[-+]?[0-9][0-9_]*(:[0-5]?[0-9])+(\.[0-9_]*)?)$", RegexOptions.IgnoreCase | RegexOptions.CultureInvariant)]
    private static partial Regex TypedScalar();
}
