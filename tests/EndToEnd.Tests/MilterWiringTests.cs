using System.Buffers.Binary;
using System.Net.Sockets;
using System.Text;
using Milter.TestSupport;

namespace EndToEnd.Tests;

/// <summary>A sendmail configured with a milter socket in its sandbox, and nothing of ours serving it.</summary>
public sealed class MilterSendmailFixture : SendmailFixture
{
    public string SocketPath => Path.Combine(Sendmail.Directory, "milter.sock");

    protected override SendmailOptions CreateOptions(string sandbox) =>
        new() { MilterSocket = $"unix:{Path.Combine(sandbox, "milter.sock")}" };
}

/// <summary>
/// Proves the INPUT_MAIL_FILTER wiring without a filter: sendmail tempfails while the socket is
/// missing, and a bare listener on the socket receives sendmail's negotiation and the connect macros.
/// </summary>
public sealed class MilterWiringTests(MilterSendmailFixture fixture) : IClassFixture<MilterSendmailFixture>
{
    private static readonly TimeSpan Bound = TimeSpan.FromSeconds(15);
    private readonly PrivateSendmail _sendmail = fixture.Sendmail;

    [Fact]
    public async Task Missing_milter_socket_tempfails_mail_with_F_T()
    {
        File.Delete(fixture.SocketPath);

        var result = await Swaks.RunAsync(new SwaksRequest { Port = _sendmail.Port, From = "nomilter@remote.example", To = ["alice@example.com"] });

        Assert.Equal("451 4.3.2 Please try again later", result.ReplyTo("MAIL")!.Text);
        await _sendmail.Log.WaitForLineAsync(
            l => l.Contains("SMTP MAIL command (<nomilter@remote.example>) from localhost [127.0.0.1] tempfailed", StringComparison.Ordinal), Bound);
    }

    [Fact]
    public async Task Milter_socket_receives_the_negotiation_and_the_configured_connect_macros()
    {
        using var listener = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        File.Delete(fixture.SocketPath);
        listener.Bind(new UnixDomainSocketEndPoint(fixture.SocketPath));
        listener.Listen();
        try
        {
            using var cancel = new CancellationTokenSource(Bound);
            var client = Swaks.RunAsync(new SwaksRequest { Port = _sendmail.Port, To = ["alice@example.com"], QuitAfter = "MAIL" }, cancellationToken: cancel.Token);
            using (var mta = await listener.AcceptAsync(cancel.Token))
            {
                var (command, offer) = await ReadFrameAsync(mta, cancel.Token);
                Assert.Equal((byte)'O', command);
                Assert.Equal((6u, 0x1ffu, 0x1fffffu), (Word(offer, 0), Word(offer, 4), Word(offer, 8)));

                // Version 6, no actions, no protocol flags: send every stage.
                await mta.SendAsync(Frame('O', [0, 0, 0, 6, 0, 0, 0, 0, 0, 0, 0, 0]), cancel.Token);
                var (macroCommand, macros) = await ReadFrameAsync(mta, cancel.Token);
                Assert.Equal((byte)'D', macroCommand);
                Assert.Equal((byte)'C', macros[0]);
                var pairs = Encoding.UTF8.GetString(macros, 1, macros.Length - 1).Split('\0');
                var names = pairs.Where((_, i) => i % 2 == 0 && i < pairs.Length - 1).ToArray();
                Assert.Equal(["j", "_", "{daemon_name}", "{if_name}", "{client_addr}", "{client_name}", "{client_port}"], names);
                Assert.Equal(SendmailOptions.HostName, pairs[1]);
            }

            // The filter went away mid-session: with F=T sendmail tempfails the mail.
            var result = await client;
            Assert.Equal("451 4.3.2 Please try again later", result.ReplyTo("MAIL")!.Text);
        }
        finally
        {
            File.Delete(fixture.SocketPath);
        }
    }

    private static uint Word(byte[] payload, int offset) => BinaryPrimitives.ReadUInt32BigEndian(payload.AsSpan(offset));

    private static byte[] Frame(char command, byte[] payload)
    {
        var frame = new byte[5 + payload.Length];
        BinaryPrimitives.WriteUInt32BigEndian(frame, (uint)(payload.Length + 1));
        frame[4] = (byte)command;
        payload.CopyTo(frame, 5);
        return frame;
    }

    private static async Task<(byte Command, byte[] Payload)> ReadFrameAsync(Socket socket, CancellationToken cancellationToken)
    {
        var header = await ReadExactlyAsync(socket, 5, cancellationToken);
        var length = BinaryPrimitives.ReadUInt32BigEndian(header);
        Assert.InRange(length, 1u, 65536u);
        return (header[4], await ReadExactlyAsync(socket, (int)length - 1, cancellationToken));
    }

    private static async Task<byte[]> ReadExactlyAsync(Socket socket, int count, CancellationToken cancellationToken)
    {
        var buffer = new byte[count];
        await using var stream = new NetworkStream(socket, ownsSocket: false);
        await stream.ReadExactlyAsync(buffer, cancellationToken);
        return buffer;
    }
}
