namespace Milter.TestSupport;

/// <summary>One swaks run: a single SMTP session sending (at most) one message.</summary>
public sealed record SwaksRequest
{
    /// <summary>The server address; <c>::1</c> makes an IPv6 client.</summary>
    public string Server { get; init; } = "127.0.0.1";

    /// <summary>The server port, e.g. <see cref="PrivateSendmail.Port"/>.</summary>
    public required int Port { get; init; }

    /// <summary>The envelope sender (<c>--from</c>); empty for the null sender.</summary>
    public string From { get; init; } = "sender@remote.example";

    /// <summary>The envelope recipients (<c>--to</c>), each sent as its own RCPT.</summary>
    public required IReadOnlyList<string> To { get; init; }

    /// <summary>The HELO/EHLO name; null lets swaks use the host name.</summary>
    public string? Helo { get; init; }

    /// <summary>Headers such as <c>Subject: hello</c>; each replaces swaks' default header of that name or is added.</summary>
    public IReadOnlyList<string> Headers { get; init; } = [];

    /// <summary>
    /// The message body; null keeps swaks' default. Limited to 128 KiB: use <see cref="BodyFile"/> beyond.
    /// swaks reads a body of <c>-</c> or one starting with <c>@</c> as a file name.
    /// </summary>
    public string? Body { get; init; }

    /// <summary>A file whose content becomes the body (<c>--body @file</c>).</summary>
    public string? BodyFile { get; init; }

    /// <summary>The client's own address (<c>--local-interface</c>), e.g. <c>127.0.0.5</c> to play an outside client.</summary>
    public string? LocalInterface { get; init; }

    /// <summary>Stop the session after this step with QUIT (<c>--quit-after</c>), e.g. <c>RCPT</c>.</summary>
    public string? QuitAfter { get; init; }

    /// <summary>Further swaks arguments, passed as they are.</summary>
    public IReadOnlyList<string> ExtraArguments { get; init; } = [];

    /// <summary>The bound on the whole run (also swaks' own per-step timeout).</summary>
    public TimeSpan Timeout { get; init; } = TimeSpan.FromSeconds(30);
}
