using System.CommandLine;
using System.CommandLine.Parsing;
using System.Net;
using MilterHost.Configuration;
using MilterHost.Tools.RelayTest;

namespace MilterHost.Commands;

/// <summary><c>milterhost relay-test HOST[:PORT]</c>: prove from the outside that a server is no open relay.</summary>
public static class RelayTestCommand
{
    public const string Name = "relay-test";

    /// <summary>The exit status when nothing could be tested: the server was unreachable, or the command line was wrong.</summary>
    public const int NotTested = 2;

    public static Command Create()
    {
        var target = new Argument<RelayTarget>("HOST[:PORT]")
        {
            Description = "The mail server to probe: a name or address, port 25 unless given ([IPv6]:PORT for IPv6 with a port).",
            CustomParser = r =>
            {
                if (RelayTarget.TryParse(r.Tokens[0].Value, out var parsed, out var error))
                    return parsed;
                r.AddError(error!);
                return null;
            },
        };
        var source = new Option<IPAddress?>("--source")
        {
            Description = "Connect from this local address. Run relay-test from another machine: the server trusts loopback "
                + "and its own addresses, and relay-test warns when it speaks from one of them.",
            HelpName = "ADDR",
            CustomParser = r =>
            {
                var text = r.Tokens[^1].Value;
                if (NetworkSyntax.TryParseAddress(text, out var address))
                    return address;
                r.AddError($"--source: '{text}' is not an IP address");
                return null;
            },
        };
        var helo = new Option<string>("--helo")
        {
            Description = "The name to give in EHLO.",
            HelpName = "NAME",
            DefaultValueFactory = _ => Dns.GetHostName(),
        };
        var from = Address("--from", RelayProbeOptions.DefaultSender, "The outside sender of the tricks.");
        var to = Address("--to", RelayProbeOptions.DefaultRecipient,
            "The outside mailbox every trick tries to reach. Give one of your own on a real domain when the server checks recipient domains in DNS.");
        var localDomain = new Option<string?>("--local-domain")
        {
            Description = "A domain the server takes mail for; by default the parent domain of the name in its greeting.",
            HelpName = "DOMAIN",
        };
        localDomain.Validators.Add(r =>
        {
            if (r.GetValueOrDefault<string?>() is { } d && !HostNames.IsValid(d))
                r.AddError($"--local-domain: '{d}' is not a domain name");
        });
        var timeout = CommandOptions.Duration("--timeout", TimeSpan.FromSeconds(30), "The longest wait for the connection and for each reply.");
        var verbose = new Option<bool>("--verbose", "-v") { Description = "Print the SMTP conversation too." };
        var json = CommandOptions.Json();

        var command = new Command(Name,
            "Try the classic open-relay tricks against a mail server over plain SMTP (MAIL, RCPT and RSET only; never DATA), "
            + "from another machine (the server trusts loopback and its own addresses; the single milterhost binary can be copied there). "
            + "Exit status 0 when every foreign recipient is refused, 1 when any is accepted (an open relay), 2 when the server cannot be reached or a trick could not be tried (the connection failed, or the server did not take MAIL FROM).")
        {
            target, source, helo, from, to, localDomain, timeout, verbose, json,
        };
        command.SetAction(async (parse, cancellationToken) =>
        {
            var output = parse.InvocationConfiguration.Output;
            var error = parse.InvocationConfiguration.Error;
            var asJson = parse.GetValue(json);
            var transcript = new List<string>();
            var verboseOn = parse.GetValue(verbose);
            var options = new RelayProbeOptions
            {
                Target = parse.GetValue(target)!,
                Source = parse.GetValue(source),
                Helo = parse.GetValue(helo)!,
                Sender = parse.GetValue(from)!,
                Recipient = parse.GetValue(to)!,
                LocalDomain = parse.GetValue(localDomain)?.TrimEnd('.').ToLowerInvariant(),
                Timeout = parse.GetValue(timeout).Value,
                Transcript = !verboseOn ? null : asJson ? transcript.Add : output.WriteLine,
            };
            var report = await RelayProbe.RunAsync(options, cancellationToken);
            if (report.Source is { } probeSource && report.Server is { } probed
                && TrustedSource.Warning(probeSource.Address, probed.Address, TrustedSource.OwnAddresses()) is { } warning)
                await error.WriteLineAsync("relay-test: " + warning);
            if (asJson)
                await output.WriteLineAsync(RelayReportWriter.WriteJson(report, verboseOn ? transcript : null));
            else if (report.Failure is null)
                RelayReportWriter.WriteText(output, report);
            if (report.Failure is not null)
                await error.WriteLineAsync("relay-test: " + report.Failure);
            return report.ExitCode;
        });
        return command;
    }

    private static Option<string> Address(string name, string defaultValue, string description)
    {
        var option = new Option<string>(name) { Description = description, HelpName = "ADDR", DefaultValueFactory = _ => defaultValue };
        option.Validators.Add(r => Validate(r, name));
        return option;
    }

    private static void Validate(OptionResult result, string name)
    {
        var text = result.GetValueOrDefault<string>() ?? "";
        var at = text.LastIndexOf('@');
        if (at <= 0 || !HostNames.IsValid(text[(at + 1)..]) || text.AsSpan().IndexOfAny("<> \t\r\n") >= 0)
            result.AddError($"{name}: '{text}' is not an address (user@domain)");
    }
}
