using Milter.Filters.Configuration;
using Milter.Protocol.Replies;
using YamlDotNet.Core;

namespace MilterHost.Configuration;

/// <summary>
/// One <c>ban:</c> item: a mapping with exactly one matcher key (client, client_name, helo,
/// sender, recipient, subject) and optional <c>action</c> and <c>reply</c>. Two matchers in one
/// item are refused rather than guessed at: "and" or "or" would both surprise someone.
/// </summary>
internal sealed class BanRuleCodec : Codec<BanRule>
{
    private const string ActionKey = "action";
    private const string ReplyKey = "reply";

    private static readonly (string Key, BanKind Kind, Codec<string> Pattern)[] Matchers =
    [
        ("client", BanKind.Client, new ScalarCodec<string>("an IP address or CIDR network", (Binder b, YScalar s, string path, out string value) =>
        {
            value = "";
            if (!Codecs.Network.TryRead(b, s, path, out var network))
                return false;
            value = network.ToString();
            return true;
        }, v => v)),
        ("client_name", BanKind.ClientName, Codecs.Text),
        ("helo", BanKind.Helo, Codecs.Text),
        ("sender", BanKind.Sender, Codecs.AddressPattern),
        ("recipient", BanKind.Recipient, Codecs.AddressPattern),
        ("subject", BanKind.Subject, new ScalarCodec<string>("a regular expression", (Binder b, YScalar s, string path, out string value) =>
        {
            value = s.Value;
            var ok = s.Value.StartsWith('/')
                ? PatternSyntax.TrySlashed(s.Value, out _, out var error, out var offset)
                : PatternSyntax.TryRegex(s.Value, System.Text.RegularExpressions.RegexOptions.None, out _, out error, out offset);
            if (!ok)
                b.Error(s, offset, $"{path}: {error}");
            return ok;
        }, v => v)),
    ];

    private static readonly Codec<BanAction> Action = Codecs.Enum<BanAction>();

    private static readonly string MatcherList = string.Join(", ", Matchers[..^1].Select(m => m.Key)) + " or " + Matchers[^1].Key;

    public override bool TryRead(Binder binder, YNode node, string path, out BanRule value)
    {
        value = null!;
        if (node is not YMapping mapping)
        {
            binder.Error(node, $"{path}: expected a rule such as {{ sender: \"*@spammer.example\" }}, got {node.Describe()}");
            return false;
        }
        var ok = true;
        YScalar? matcherKey = null;
        (BanKind Kind, string Pattern)? matcher = null;
        var action = BanAction.Reject;
        YScalar? replyNode = null;
        var seen = new Dictionary<string, YScalar>(StringComparer.Ordinal);
        foreach (var (key, valueNode) in mapping.Entries)
        {
            var keyPath = $"{path}.{key.Value}";
            if (seen.TryGetValue(key.Value, out var first))
            {
                binder.Error(key, $"duplicate key '{key.Value}' (first written at line {first.Line})");
                ok = false;
                continue;
            }
            seen[key.Value] = key;
            binder.Remember(keyPath, key);
            var m = Array.FindIndex(Matchers, x => x.Key == key.Value);
            if (m >= 0)
            {
                if (matcherKey is not null)
                {
                    binder.Error(key, $"{path}: a ban rule has exactly one matcher, this one has '{matcherKey.Value}' and '{key.Value}'; write two rules");
                    ok = false;
                    continue;
                }
                matcherKey = key;
                if (Matchers[m].Pattern.TryRead(binder, valueNode, keyPath, out var pattern))
                    matcher = (Matchers[m].Kind, pattern);
                else
                    ok = false;
            }
            else if (key.Value == ActionKey)
            {
                ok &= Action.TryRead(binder, valueNode, keyPath, out action);
            }
            else if (key.Value == ReplyKey)
            {
                if (binder.TryScalar(valueNode, keyPath, "an SMTP reply like \"550 5.7.1 Go away\"", out var reply))
                    replyNode = reply;
                else
                    ok = false;
            }
            else
            {
                var hint = Suggest.Closest(key.Value, Matchers.Select(x => x.Key).Append(ActionKey).Append(ReplyKey)) is { } s ? $" (did you mean '{s}'?)" : "";
                binder.Error(key, $"unknown key '{key.Value}' in {path}{hint}");
                ok = false;
            }
        }
        if (matcherKey is null)
        {
            binder.Error(mapping, $"{path}: a ban rule needs one matcher: {MatcherList}");
            return false;
        }
        if (replyNode is not null)
            ok &= CheckReply(binder, replyNode, $"{path}.{ReplyKey}", action);
        if (!ok || matcher is null)
            return false;
        value = new BanRule { Kind = matcher.Value.Kind, Pattern = matcher.Value.Pattern, Action = action, Reply = replyNode?.Value.Trim() };
        return true;
    }

    public override void Write(IEmitter emitter, BanRule value)
    {
        var matcher = Array.Find(Matchers, m => m.Kind == value.Kind);
        Emit.MappingStart(emitter, flow: true);
        Emit.Key(emitter, matcher.Key);
        matcher.Pattern.Write(emitter, value.Pattern);
        Emit.Key(emitter, ActionKey);
        Action.Write(emitter, value.Action);
        if (value.Reply is not null)
        {
            Emit.Key(emitter, ReplyKey);
            Emit.Text(emitter, value.Reply);
        }
        Emit.MappingEnd(emitter);
    }

    private static bool CheckReply(Binder binder, YScalar node, string path, BanAction action)
    {
        var words = node.Value.Trim().Split(' ', 3);
        if (node.Value.AsSpan().IndexOfAny('\r', '\n', '\0') >= 0)
        {
            // A line break would end the SMTP reply early or start another; sendmail refuses it too.
            binder.Error(node, $"{path}: a reply is one line: it may not hold a line break (CR or LF) or a NUL");
            return false;
        }
        if (!SmtpReply.TryParse(node.Value.Trim(), out var reply))
        {
            // SmtpReply refuses "550 4.1.1 ..." too; say why.
            binder.Error(node, words.Length > 1 && SmtpReply.TryParse(words[0], out var code) && SmtpReply.IsEnhancedStatusCode(words[1])
                ? $"{path}: enhanced status code {words[1]} does not match reply code {code!.Code} (its first digit must be {code.Code / 100})"
                : $"{path}: '{node.Value}' is not an SMTP reply; write a 4xx or 5xx code, an optional enhanced code and text, e.g. \"550 5.7.1 Go away\"");
            return false;
        }
        var problem = action switch
        {
            BanAction.Reject when reply!.IsTemporary => $"action reject needs a 5xx reply, got {reply.Code}",
            BanAction.Tempfail when !reply!.IsTemporary => $"action tempfail needs a 4xx reply, got {reply.Code}",
            BanAction.Discard => "a discarded message gets no reply; drop reply: or change the action",
            _ => null,
        };
        if (problem is null)
            return true;
        binder.Error(node, $"{path}: {problem}");
        return false;
    }
}
