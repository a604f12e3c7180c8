using System.Buffers;
using CsCheck;
using Milter.Protocol.Commands;
using Milter.Protocol.Negotiation;
using Milter.Protocol.Replies;
using Milter.Protocol.Tests.Support;
using Milter.Protocol.Wire;

namespace Milter.Protocol.Tests;

/// <summary>Round trips of random commands and replies; random and mutated streams into a session.</summary>
public sealed class PropertyTests
{
    private const int Limit = 1024 * 1024 + 64;

    // Any text a C string can carry that survives UTF-8: no NUL, no lone surrogates.
    private static readonly Gen<string> Text = Gen.Char[(char)1, '\uD7FF'].Array[0, 30].Select(a => new string(a));
    private static readonly Gen<string> Ascii = Gen.Char[(char)1, (char)127].Array[0, 30].Select(a => new string(a));

    private static (byte Code, byte[] Payload) ReadOne(ReadOnlySpan<byte> written)
    {
        var buffer = new ReadOnlySequence<byte>(written.ToArray());
        Assert.True(FrameReader.TryRead(ref buffer, Limit, out var code, out var payload));
        Assert.True(buffer.IsEmpty, "exactly one frame was written");
        return (code, payload.ToArray());
    }

    private static (byte Code, byte[] Payload) Write(Action<IBufferWriter<byte>> write)
    {
        var w = new ArrayBufferWriter<byte>();
        write(w);
        return ReadOne(w.WrittenSpan);
    }

    [Fact]
    public void CONNECT_of_any_family_round_trips()
    {
        var gen = Gen.Select(Text, Gen.OneOf(ConnectFamily.Inet, ConnectFamily.Inet6, ConnectFamily.Unix, ConnectFamily.Unknown), Gen.UShort, Text)
            .Select((host, family, port, address) => family == ConnectFamily.Unknown
                ? new ConnectCommand(host, family, 0, null)
                : new ConnectCommand(host, family, port, address));
        gen.Sample(c =>
        {
            var (code, payload) = Write(w => CommandCodec.WriteConnect(w, c));
            Assert.Equal((byte)'C', code);
            Assert.Equal(c, CommandCodec.ParseConnect(payload));
        }, iter: 2000);
    }

    [Fact]
    public void MAIL_RCPT_HELO_HEADER_and_UNKNOWN_round_trip_through_the_client_layout()
    {
        var gen = Gen.Select(Text, Text.Array[0, 5], Text, Text);
        gen.Sample((address, args, name, value) =>
        {
            var (code, payload) = Write(w => FrameWriter.WriteStrings(w, (byte)CommandCode.Mail, [address, .. args]));
            Assert.Equal((byte)'M', code);
            var mail = CommandCodec.ParseMail(payload);
            Assert.Equal(address, mail.Sender);
            Assert.Equal(args, mail.Arguments);

            var rcpt = CommandCodec.ParseRcpt(Write(w => FrameWriter.WriteStrings(w, (byte)CommandCode.Rcpt, [address, .. args])).Payload);
            Assert.Equal(address, rcpt.Recipient);
            Assert.Equal(args, rcpt.Arguments);

            Assert.Equal(new HeaderCommand(name, value), CommandCodec.ParseHeader(Write(w => FrameWriter.WriteStrings(w, (byte)CommandCode.Header, name, value)).Payload));
            Assert.Equal(name, CommandCodec.ParseHelo(Write(w => FrameWriter.WriteStrings(w, (byte)CommandCode.Helo, name)).Payload).Name);
            Assert.Equal(value, CommandCodec.ParseUnknown(Write(w => FrameWriter.WriteStrings(w, (byte)CommandCode.Unknown, value)).Payload).Line);
        }, iter: 2000);
    }

    [Fact]
    public void MACRO_packets_round_trip()
    {
        var gen = Gen.Select(Gen.Char["CHMRTLNEU"], Gen.Select(Ascii, Text).Array[0, 20]);
        gen.Sample((stage, pairs) =>
        {
            var list = pairs.Select(p => new KeyValuePair<string, string>(p.Item1, p.Item2)).ToList();
            var (code, payload) = Write(w => CommandCodec.WriteMacros(w, stage, list));
            Assert.Equal((byte)'D', code);
            var back = new List<KeyValuePair<string, string>>();
            Assert.Equal(stage, CommandCodec.ParseMacros(payload, 100, back));
            Assert.Equal(list, back);
        }, iter: 2000);
    }

    [Fact]
    public void OPTNEG_with_or_without_macro_lists_round_trips()
    {
        var lists = Gen.Select(Gen.UInt[0, 6], Ascii).Array[0, 7]
            .Select(a => a.Length == 0 ? null : (IReadOnlyDictionary<MacroStage, string>)a.DistinctBy(p => p.Item1).ToDictionary(p => (MacroStage)p.Item1, p => p.Item2));
        var gen = Gen.Select(Gen.UInt, Gen.UInt, Gen.UInt, lists);
        gen.Sample((version, actions, protocol, macroLists) =>
        {
            var o = new OptionNegotiation(version, (ActionFlags)actions, (ProtocolFlags)protocol, macroLists);
            var (code, payload) = Write(w => CommandCodec.WriteOptionNegotiation(w, (byte)'O', o));
            Assert.Equal((byte)'O', code);
            var back = CommandCodec.ParseOptionNegotiation(payload);
            Assert.Equal((o.Version, o.Actions, o.Protocol), (back.Version, back.Actions, back.Protocol));
            Assert.Equal(o.MacroLists?.OrderBy(kv => kv.Key), back.MacroLists?.OrderBy(kv => kv.Key));
        }, iter: 2000);
    }

    private static readonly Gen<SmtpReply> Replies =
        Gen.Select(Gen.Int[400, 599], Gen.Bool, Gen.Int[0, 999], Gen.Int[0, 999],
                Gen.Char[(char)1, '\uD7FF'].Where(c => c is not ('\r' or '\n')).Array[0, 30].Select(a => new string(a)).Array[1, 4])
            .Where((code, withEnhanced, _, _, lines) => withEnhanced || !char.IsAsciiDigit(lines[0].FirstOrDefault()))
            .Select((code, withEnhanced, subject, detail, lines) =>
                new SmtpReply(code, withEnhanced ? $"{code / 100}.{subject}.{detail}" : null, lines));

    [Fact]
    public void Verdicts_with_and_without_SMTP_replies_round_trip()
    {
        var gen = Gen.Select(Gen.Enum<VerdictKind>(), Replies.Null(0.3), Gen.Bool);
        gen.Sample((kind, reply, skipAllowed) =>
        {
            // A reply rides with a verdict of its own class only.
            if (reply is not null && kind is VerdictKind.Reject or VerdictKind.Tempfail)
                kind = reply.Kind;
            var verdict = new Verdict(kind, reply);
            var (code, payload) = Write(w => ReplyCodec.WriteVerdict(w, verdict, skipAllowed));

            if (reply is not null && kind is VerdictKind.Reject or VerdictKind.Tempfail)
            {
                Assert.Equal((byte)'y', code);
                var text = new PayloadReader(payload, "REPLYCODE").ReadCString("text");
                var back = ReplyCodec.ParseReplyText(text);
                Assert.Equal((reply.Code, reply.Enhanced), (back.Code, back.Enhanced));
                Assert.Equal(reply.Lines, back.Lines);
            }
            else
            {
                var expected = kind switch
                {
                    VerdictKind.Accept => 'a',
                    VerdictKind.Reject => 'r',
                    VerdictKind.Tempfail => 't',
                    VerdictKind.Discard => 'd',
                    VerdictKind.Skip when skipAllowed => 's',
                    _ => 'c',
                };
                Assert.Equal((byte)expected, code);
                Assert.Empty(payload);
            }
        }, iter: 3000);
    }

    [Fact]
    public void Modifications_round_trip()
    {
        var gen = Gen.OneOf<Modification>(
            Gen.Select(Text, Text).Select((n, v) => (Modification)new AddHeaderModification(n, v)),
            Gen.Select(Gen.UInt, Text, Text).Select((i, n, v) => (Modification)new InsertHeaderModification(i, n, v)),
            Gen.Select(Gen.UInt, Text, Text).Select((i, n, v) => (Modification)new ChangeHeaderModification(i, n, v)),
            Gen.Select(Text, Text.Null(0.5)).Select((r, a) => (Modification)new AddRecipientModification(r, a)),
            Text.Select(r => (Modification)new DeleteRecipientModification(r)),
            Gen.Select(Text, Text.Null(0.5)).Select((s, a) => (Modification)new ChangeFromModification(s, a)),
            Gen.Byte.Array[0, 500].Select(b => (Modification)new ReplaceBodyModification(b)),
            Text.Select(r => (Modification)new QuarantineModification(r)));
        gen.Sample(m =>
        {
            var (code, payload) = Write(w => ReplyCodec.WriteModification(w, m));
            var back = ReplyCodec.ParseModification((ReplyCode)code, payload);
            if (m is ReplaceBodyModification body)
                Assert.Equal(body.Chunk.ToArray(), Assert.IsType<ReplaceBodyModification>(back).Chunk.ToArray());
            else
                Assert.Equal(m, back);
        }, iter: 3000);
    }

    [Fact]
    public void The_negotiator_never_asks_for_more_than_the_MTA_offers()
    {
        // Macro names as a filter writes them: a letter, a word, or a word in braces.
        var name = Gen.Select(Gen.Char["abcdefghijklmnopqrstuvwxyz_"].Array[1, 12], Gen.Bool)
            .Select((chars, braced) => braced ? "{" + new string(chars) + "}" : new string(chars));
        var macros = Gen.Select(Gen.UInt[0, 6], name.Array[0, 3]).Array[0, 4]
            .Select(a => (IReadOnlyDictionary<MacroStage, IReadOnlyList<string>>)a.DistinctBy(p => p.Item1).ToDictionary(p => (MacroStage)p.Item1, p => (IReadOnlyList<string>)p.Item2));
        var gen = Gen.Select(Gen.UInt[2, 9], Gen.UInt, Gen.UInt, Gen.UInt[0, 1023], Gen.UInt[0, 1023], Gen.UInt, Gen.Bool, macros.Null(0.3));
        gen.Sample((version, offeredActions, offeredProtocol, stages, replies, actions, leadingSpace, wantedMacros) =>
        {
            var offer = new OptionNegotiation(version, (ActionFlags)offeredActions, (ProtocolFlags)offeredProtocol);
            var needs = new HandlerRequirements
            {
                Stages = (MilterStages)stages,
                Replies = (MilterStages)replies,
                Actions = (ActionFlags)actions,
                HeaderLeadingSpace = leadingSpace,
                Macros = wantedMacros,
            };
            var answer = Negotiator.Negotiate(offer, needs);
            Assert.True(answer.Version <= version && answer.Version is >= 2 and <= 6);
            Assert.Equal(0u, (uint)answer.Protocol & ~offeredProtocol);
            Assert.Equal(0u, (uint)answer.Actions & ~offeredActions);
            Assert.Equal(0u, (uint)answer.Actions & ~(actions | (uint)ActionFlags.SetSymbolList));
            if (answer.MacroLists is not null)
            {
                Assert.True(answer.Actions.HasFlag(ActionFlags.SetSymbolList));
                foreach (var list in answer.MacroLists.Values)
                {
                    foreach (var entry in list.Split(' '))
                        Assert.True(entry.Length == 1 ? char.IsAsciiLetterLower(entry[0]) || entry == "_" : entry[0] == '{' && entry[^1] == '}' && !entry[1..^1].Contains('{'), entry);
                }
            }
        }, iter: 3000);
    }

    // ---- Streams into a session: whatever arrives, the session ends by itself, cleanly. ----

    private static readonly byte[] Offer = Bytes.SendmailOffer;

    /// <summary>Feeds <paramref name="stream"/> cut at <paramref name="cuts"/>; returns a reason the run was bad, or null.</summary>
    internal static string? FeedAndCheck(byte[] stream, IEnumerable<int> cuts)
    {
        var s = PipeSession.Create(ReferenceFilter.Create());
        var run = s.StartRun();
        var from = 0;
        foreach (var cut in cuts.Where(c => c > 0 && c < stream.Length).Order().Append(stream.Length))
        {
            if (cut <= from) continue;
            s.ToFilter.Write(stream.AsSpan(from, cut - from));
            s.ToFilter.FlushAsync().AsTask().Wait(PipeSession.HangLimit);
            from = cut;
        }
        s.ToFilter.Complete();
        if (!run.Wait(PipeSession.HangLimit))
            return "the session did not end";
        var log = s.Logger.Entries;
        if (log.FirstOrDefault(e => e.EventId.Id == 1013) is { } failed)
            return $"unexpected failure: {failed.Exception}";
        // A mutated offer may withhold the action the reference filter uses at EOM: that is said at
        // negotiation (1016), and its refusal is the handler's failure (answered with the failure
        // verdict), not the peer's.
        var warnings = log.Where(e => e.Level >= Microsoft.Extensions.Logging.LogLevel.Warning)
            .Where(e => e.EventId.Id != 1016 && !(e.EventId.Id == 1004 && e.Exception is InvalidOperationException)).ToArray();
        if (warnings.Length > 1)
            return $"{warnings.Length} warnings: {string.Join(" | ", warnings.Select(w => w.Message))}";
        if (warnings.Length == 1 && warnings[0].Violation is null)
            return $"a warning that is not a violation: {warnings[0].Message}";
        return null;
    }

    private static void AssertClean(string? problem, byte[] stream)
    {
        if (problem is not null)
            Assert.Fail($"{problem}; input {Bytes.ToHex(stream)}");
    }

    [Fact]
    public void Random_bytes_end_the_session_cleanly()
    {
        Gen.Select(Gen.Bool, Gen.Byte.Array[0, 600], Gen.Int[0, 700].Array[0, 4]).Sample((negotiate, noise, cuts) =>
        {
            var stream = negotiate ? Bytes.Concat(Offer, noise) : noise;
            AssertClean(FeedAndCheck(stream, cuts), stream);
        }, iter: 3000);
    }

    private static readonly Gen<byte[]> AnyFrame = Gen.OneOf(
        Gen.Select(Gen.Char["ABCDEHKLMNOQRTUZ"], Gen.Byte.Array[0, 40]).Select((c, p) => Bytes.Frame(c, p)),
        Gen.Const(() => Bytes.Connect4()),
        Gen.Select(Gen.Char["46LU"], Text).Select((f, a) => f == 'U' ? Bytes.Frame('C', a, 'U') : Bytes.Frame('C', a, f, (ushort)25, a)),
        Text.Select(Bytes.Helo),
        Gen.Select(Text, Text).Select((a, b) => Bytes.Mail(a, b)),
        Text.Select(a => Bytes.Rcpt(a)),
        Gen.Select(Text, Text).Select(Bytes.Header),
        Gen.Select(Gen.Char["CHMRTLNEUZ"], Gen.Select(Ascii, Text).Array[0, 5]).Select((s, p) => Bytes.Macro(s, p.Select(x => (x.Item1, x.Item2)).ToArray())),
        Text.Select(Bytes.Body),
        Gen.Char["TNEAKUQ"].Select(c => Bytes.Bare(c)),
        Gen.Select(Gen.UInt[0, 8], Gen.UInt, Gen.UInt).Select(Bytes.Optneg));

    [Fact]
    public void Random_sequences_of_well_formed_and_odd_frames_end_the_session_cleanly()
    {
        Gen.Select(AnyFrame.Array[0, 30], Gen.Int[0, 2000].Array[0, 3]).Sample((frames, cuts) =>
        {
            var stream = Bytes.Concat([Offer, .. frames]);
            AssertClean(FeedAndCheck(stream, cuts), stream);
        }, iter: 3000);
    }

    private static readonly byte[][] CaptureStreams = Capture.Names.Where(n => n != "large-body").Select(n => Capture.Load(n).MtaStream).ToArray();

    /// <summary>One edit of a stream: flip, delete, insert, duplicate, truncate, or overwrite a length prefix.</summary>
    private static byte[] Mutate(byte[] s, int kind, int a, int b, byte value)
    {
        if (s.Length == 0) return [value];
        var at = a % s.Length;
        var n = 1 + b % 64;
        switch (kind)
        {
            case 0:
                var flipped = s.ToArray();
                flipped[at] = value;
                return flipped;
            case 1:
                return [.. s.AsSpan(0, at), .. s.AsSpan(Math.Min(s.Length, at + n))];
            case 2:
                return [.. s.AsSpan(0, at), .. Enumerable.Repeat(value, n), .. s.AsSpan(at)];
            case 3:
                var len = Math.Min(n * 4, s.Length - at);
                return [.. s.AsSpan(0, at + len), .. s.AsSpan(at, len), .. s.AsSpan(at + len)];
            case 4:
                return s[..at];
            default:
                var big = s.ToArray();
                if (at + 4 <= big.Length)
                    System.Buffers.Binary.BinaryPrimitives.WriteUInt32BigEndian(big.AsSpan(at), (uint)b);
                return big;
        }
    }

    [Fact]
    public void Mutated_capture_streams_end_the_session_cleanly()
    {
        var edit = Gen.Select(Gen.Int[0, 5], Gen.Int.NonNegative, Gen.Int.NonNegative, Gen.Byte);
        Gen.Select(Gen.Int[0, CaptureStreams.Length - 1], edit.Array[1, 4], Gen.Int[0, 3500].Array[0, 3]).Sample((which, edits, cuts) =>
        {
            var stream = CaptureStreams[which];
            foreach (var (kind, a, b, value) in edits)
                stream = Mutate(stream, kind, a, b, value);
            AssertClean(FeedAndCheck(stream, cuts), stream);
        }, iter: 3000);
    }

    [Fact]
    public void Every_truncation_of_every_capture_ends_the_session_cleanly()
    {
        foreach (var stream in CaptureStreams)
        {
            for (var n = 0; n < stream.Length; n++)
                AssertClean(FeedAndCheck(stream[..n], []), stream[..n]);
        }
    }
}
