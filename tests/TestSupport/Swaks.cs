using System.Globalization;
using Milter.TestSupport.Internal;

namespace Milter.TestSupport;

/// <summary>Sends mail with the real swaks client and reports every reply.</summary>
/// <example>
/// <code>
/// var result = await Swaks.RunAsync(new SwaksRequest
/// {
///     Port = sendmail.Port, To = ["x@example.com"], LocalInterface = "127.0.0.5", QuitAfter = "RCPT",
/// });
/// Assert.Equal("550 5.1.1 &lt;x@example.com&gt;... User unknown", result.ReplyTo("RCPT")!.Text);
/// </code>
/// </example>
public static class Swaks
{
    private static readonly TimeSpan ExitGrace = TimeSpan.FromSeconds(5);

    /// <summary>Runs swaks once; returns whatever the session produced, accepted or refused.</summary>
    /// <exception cref="TimeoutException">swaks ran longer than <see cref="SwaksRequest.Timeout"/> and was killed.</exception>
    public static async Task<SwaksResult> RunAsync(SwaksRequest request, TimeProvider? time = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(request);
        if (request.To.Count == 0)
        {
            throw new ArgumentException("swaks needs at least one recipient.", nameof(request));
        }

        // Through sh so stdout and stderr interleave in the order swaks wrote them.
        var startInfo = ProcessRunner.StartInfo("sh", ["-c", "exec swaks \"$@\" 2>&1", "sh", .. Arguments(request)]);
        var result = await ProcessRunner.RunAsync(startInfo, request.Timeout + ExitGrace, time ?? TimeProvider.System, cancellationToken);
        return new SwaksResult(result.ExitCode, result.StandardOutput, SwaksTranscript.Parse(result.StandardOutput));
    }

    private static List<string> Arguments(SwaksRequest request)
    {
        var seconds = Math.Max(1, (int)Math.Ceiling(request.Timeout.TotalSeconds)).ToString(CultureInfo.InvariantCulture);
        var arguments = new List<string>
        {
            "--server", request.Server,
            "--port", request.Port.ToString(CultureInfo.InvariantCulture),
            "--from", request.From.Length == 0 ? "<>" : request.From,
            "--to", string.Join(',', request.To),
            "--timeout", seconds,
        };

        void Add(string option, string? value)
        {
            if (value is not null)
            {
                arguments.Add(option);
                arguments.Add(value);
            }
        }

        Add("--helo", request.Helo);
        Add("--local-interface", request.LocalInterface);
        Add("--quit-after", request.QuitAfter);
        Add("--body", request.BodyFile is not null ? "@" + request.BodyFile : request.Body);
        foreach (var header in request.Headers)
        {
            Add("--header", header);
        }

        arguments.AddRange(request.ExtraArguments);
        return arguments;
    }
}
