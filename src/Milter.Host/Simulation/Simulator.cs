using System.IO.Pipelines;
using System.Net.Sockets;
using System.Text;
using Microsoft.Extensions.Logging.Abstractions;
using Milter.Filters;
using Milter.Filters.Context;
using Milter.Protocol.Client;
using Milter.Protocol.Commands;
using Milter.Protocol.Replies;
using Milter.Protocol.Session;

namespace MilterHost.Simulation;

/// <summary>
/// Plays one SMTP session to a filter chain the way sendmail would: the real protocol session with
/// the real <see cref="ChainHandler"/> on one end of an in-memory pipe, the real MTA-side
/// <see cref="MilterClient"/> on the other, sendmail 8.17's offer and macros. So the answers are
/// exactly what sendmail would get, stages the chain negotiated away included. Like sendmail, it
/// stops at the first final answer for the session or message; a refused recipient only drops
/// that recipient.
/// </summary>
internal sealed class Simulator(FilterChain chain, SessionOptions sessionOptions, TimeProvider time)
{
    // What sendmail would put in {i}; it only shows in the filters' own log lines.
    private const string QueueId = "SIMULATED";
    private const ushort ClientPort = 40000;
    private static readonly byte[] Body = Encoding.ASCII.GetBytes("A message made up by milterhost simulate.\r\n");

    /// <summary>Runs the session; <paramref name="decisions"/> also hears every final decision of the chain.</summary>
    public async Task<SimulationReport> RunAsync(SimulationRequest request, IDecisionSink? decisions, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(request);
        var recorder = new Recorder(decisions);
        var toFilter = new Pipe();
        var toMta = new Pipe();
        var handler = new ChainHandler(chain, recorder);
        var session = new MilterSession(new DuplexPipe(toFilter.Reader, toMta.Writer), handler,
            sessionOptions, time, NullLogger.Instance, connectionId: 1);
        var running = session.RunAsync(cancellationToken);
        var sent = new List<(string Stage, string Input, MilterResponse Response, string? Recipient)>();
        IReadOnlyList<string> dnsFacts;
        await using (var mta = new MilterClient(new DuplexPipe(toMta.Reader, toFilter.Writer)))
        {
            await mta.NegotiateAsync(cancellationToken: cancellationToken).ConfigureAwait(false);
            await PlayAsync(mta, request, sent, cancellationToken).ConfigureAwait(false);
            // Read while the message is still open: a message left open at QUIT is aborted, which drops its state.
            dnsFacts = Milter.Filters.Dns.DnsFacts.Of(handler.Session)?.Describe() ?? [];
            await mta.QuitAsync(cancellationToken).ConfigureAwait(false);
            await running.ConfigureAwait(false);
        }

        // Matched by stage (and recipient), not by arrival, so a decision is never pinned on the wrong row.
        var unclaimed = recorder.Decisions.ToList();
        var steps = new List<SimulationStep>(sent.Count);
        foreach (var (stage, input, response, recipient) in sent)
        {
            var here = unclaimed.Where(d => d.Stage == stage && d.Recipient == recipient).ToList();
            var decision = here.FirstOrDefault(d => d.Applied);
            var notApplied = here.TakeWhile(d => !d.Applied).ToList();
            unclaimed.RemoveAll(d => (object)d == decision || notApplied.Contains(d));
            steps.Add(new SimulationStep(stage, input, response, decision, recipient) { NotApplied = notApplied });
        }
        return new SimulationReport(request, steps, OutcomeOf(request, steps)) { DnsFacts = dnsFacts };
    }

    private static async Task PlayAsync(MilterClient mta, SimulationRequest request, List<(string, string, MilterResponse, string?)> sent,
        CancellationToken cancellationToken)
    {
        var ipv6 = request.Client.AddressFamily == AddressFamily.InterNetworkV6;
        var address = request.Client.ToString();
        await mta.SendMacrosAsync('C',
            [
                new("j", Environment.MachineName), new("{daemon_name}", ipv6 ? "MTA-v6" : "MTA-v4"),
                new("{client_addr}", address), new("{client_name}", request.ReportedClientName),
                new("{client_port}", ClientPort.ToString(System.Globalization.CultureInfo.InvariantCulture)),
            ], cancellationToken).ConfigureAwait(false);
        var connect = await mta.ConnectAsync(request.ReportedClientName, ipv6 ? ConnectFamily.Inet6 : ConnectFamily.Inet, ClientPort, address, cancellationToken)
            .ConfigureAwait(false);
        if (Ends(sent, DecisionStage.Connect, request.ClientName is null ? request.AddressLiteral : $"{request.ClientName} {request.AddressLiteral}", connect))
            return;
        if (Ends(sent, DecisionStage.Helo, request.HeloName, await mta.HeloAsync(request.HeloName, cancellationToken).ConfigureAwait(false)))
            return;

        var from = request.From.Trim('<', '>');
        List<KeyValuePair<string, string>> mailMacros = [new("i", QueueId), new("{mail_addr}", from)];
        if (request.AuthUser is { } login)
            mailMacros.Add(new("{auth_authen}", login));
        await mta.SendMacrosAsync('M', mailMacros, cancellationToken).ConfigureAwait(false);
        if (Ends(sent, DecisionStage.Mail, $"<{from}>", await mta.MailAsync(from, cancellationToken: cancellationToken).ConfigureAwait(false)))
            return;

        var accepted = 0;
        foreach (var to in request.To)
        {
            var recipient = to.Trim('<', '>');
            await mta.SendMacrosAsync('R', [new("{rcpt_addr}", recipient)], cancellationToken).ConfigureAwait(false);
            var answer = await mta.RcptAsync(recipient, cancellationToken: cancellationToken).ConfigureAwait(false);
            sent.Add((DecisionStage.Rcpt, $"<{recipient}>", answer, recipient));
            // A discard answered at RCPT drops the whole message (milterhost answers continue and
            // deletes the recipient at end of message); a refusal drops only this recipient.
            if (answer.Kind == VerdictKind.Discard)
                return;
            if (answer.Kind is VerdictKind.Continue or VerdictKind.Accept or VerdictKind.Skip)
                accepted++;
        }
        // sendmail answers DATA itself when no recipient is left; the filter hears no more of the message.
        if (accepted == 0)
            return;

        if (Ends(sent, DecisionStage.Data, "", await mta.DataAsync(cancellationToken).ConfigureAwait(false)))
            return;
        if (request.Subject is { } subject
            && Ends(sent, DecisionStage.Header, $"Subject: {subject}", await mta.HeaderAsync("Subject", subject, cancellationToken).ConfigureAwait(false)))
            return;
        if (Ends(sent, DecisionStage.EndOfHeaders, "", await mta.EndOfHeadersAsync(cancellationToken).ConfigureAwait(false)))
            return;
        var body = await mta.BodyChunksAsync(Body, cancellationToken).ConfigureAwait(false);
        if (body.Sent && Ends(sent, "body", $"{Body.Length} bytes", body))
            return;
        sent.Add((DecisionStage.EndOfMessage, "", await mta.EndOfMessageAsync(cancellationToken).ConfigureAwait(false), null));
    }

    /// <summary>Notes the answer; true when it ends the session or message (anything but continue).</summary>
    private static bool Ends(List<(string, string, MilterResponse, string?)> sent, string stage, string input, MilterResponse response)
    {
        sent.Add((stage, input, response, null));
        return response.Kind is not (VerdictKind.Continue or VerdictKind.Skip);
    }

    private static SimulationOutcome OutcomeOf(SimulationRequest request, IReadOnlyList<SimulationStep> steps)
    {
        var rcpts = steps.Where(s => s.Stage == DecisionStage.Rcpt).ToList();
        // A recipient a filter discarded at RCPT is taken out of the envelope at end of message.
        var deleted = steps.Where(s => s.Stage == DecisionStage.EndOfMessage)
            .SelectMany(s => s.Response.Modifications.OfType<Milter.Protocol.Replies.DeleteRecipientModification>())
            .Select(d => d.Recipient.Trim('<', '>')).ToHashSet(StringComparer.OrdinalIgnoreCase);
        var accepted = rcpts.Where(s => (!s.IsFinal || s.Verdict == VerdictKind.Accept) && !deleted.Contains(s.Recipient!)).Select(s => s.Recipient!).ToList();
        var last = steps[^1];
        if (last.IsFinal && (last.Stage != DecisionStage.Rcpt || last.Verdict == VerdictKind.Discard))
        {
            // An accept before RCPT lets the rest of the session through unfiltered.
            var through = last.Verdict != VerdictKind.Accept ? [] : rcpts.Count > 0 ? accepted : [.. request.To.Select(t => t.Trim('<', '>'))];
            return new SimulationOutcome(last.Verdict, last.Stage, last.Response.Reply, through);
        }
        if (accepted.Count == 0)
        {
            var kind = rcpts.Any(s => s.Verdict == VerdictKind.Tempfail) ? VerdictKind.Tempfail : VerdictKind.Reject;
            return new SimulationOutcome(kind, DecisionStage.Rcpt, null, []);
        }
        return new SimulationOutcome(VerdictKind.Accept, DecisionStage.EndOfMessage, null, accepted);
    }

    /// <summary>Keeps every final decision of the chain, in order, and passes it on.</summary>
    private sealed class Recorder(IDecisionSink? next) : IDecisionSink
    {
        private readonly Lock _lock = new();
        private readonly List<Decision> _decisions = [];

        public IReadOnlyList<Decision> Decisions
        {
            get
            {
                lock (_lock)
                    return [.. _decisions];
            }
        }

        public void OnDecision(SessionContext session, Decision decision)
        {
            lock (_lock)
                _decisions.Add(decision);
            next?.OnDecision(session, decision);
        }
    }
}
