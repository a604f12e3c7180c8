using System.Diagnostics;
using System.Text;
using EndToEnd.Tests.Support;

namespace EndToEnd.Tests.SendmailCf;

/// <summary>
/// An SMTP conversation with <c>sendmail -bs</c> over its stdin and stdout: the real SMTP server
/// code with the real checks, milter included, without a listening daemon. Each command is sent
/// only after the previous reply, as sendmail refuses clients that talk before the greeting.
/// </summary>
internal sealed class StdioSmtp : IAsyncDisposable
{
    private static readonly TimeSpan ReplyTimeout = TimeSpan.FromSeconds(30);
    private readonly Process _process;

    private StdioSmtp(Process process, string greeting)
    {
        _process = process;
        Greeting = greeting;
    }

    /// <summary>The 220 greeting (or a refusal), all lines joined by newlines.</summary>
    public string Greeting { get; }

    public static async Task<StdioSmtp> StartAsync(CfSandbox sandbox)
    {
        var startInfo = new ProcessStartInfo(CfSandbox.Sendmail)
        {
            UseShellExecute = false,
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            WorkingDirectory = sandbox.Directory,
            StandardOutputEncoding = Encoding.ASCII,
        };
        foreach (var argument in new[] { "-C", sandbox.Cf, "-bs" })
        {
            startInfo.ArgumentList.Add(argument);
        }

        var process = Tool.Start(startInfo, "sendmail -bs");
        _ = process.StandardError.ReadToEndAsync();
        try
        {
            return new StdioSmtp(process, await ReadReplyAsync(process));
        }
        catch
        {
            process.Kill(entireProcessTree: true);
            process.Dispose();
            throw;
        }
    }

    /// <summary>Sends one command line and returns the whole reply, lines joined by newlines.</summary>
    public async Task<string> SendAsync(string command)
    {
        await _process.StandardInput.WriteAsync(command + "\r\n");
        await _process.StandardInput.FlushAsync();
        return await ReadReplyAsync(_process);
    }

    public async ValueTask DisposeAsync()
    {
        if (!_process.HasExited)
        {
            _process.Kill(entireProcessTree: true);
            await _process.WaitForExitAsync();
        }

        _process.Dispose();
    }

    private static async Task<string> ReadReplyAsync(Process process)
    {
        using var deadline = new CancellationTokenSource(ReplyTimeout);
        var lines = new List<string>();
        while (true)
        {
            var line = await process.StandardOutput.ReadLineAsync(deadline.Token)
                ?? throw new InvalidOperationException($"sendmail -bs ended after: {string.Join('\n', lines)}");
            lines.Add(line);
            // The last line of a reply has a space after the code; the others a dash.
            if (line.Length < 4 || line[3] != '-')
            {
                return string.Join('\n', lines);
            }
        }
    }
}
