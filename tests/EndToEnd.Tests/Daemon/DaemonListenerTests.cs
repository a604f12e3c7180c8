using System.Net;
using Milter.Protocol.Wire;
using Milter.TestSupport;

namespace EndToEnd.Tests.Daemon;

/// <summary>The TCP forms of <c>listen:</c> that sendmail's <c>S=</c> takes.</summary>
public sealed class DaemonListenerTests
{
    [Theory]
    [InlineData("inet:{0}@127.0.0.1", "127.0.0.1")]
    [InlineData("inet6:{0}@[::1]", "::1")]
    public async Task A_TCP_listener_serves_a_milter_conversation(string listen, string address)
    {
        using var sandbox = new DaemonSandbox("inet");
        var port = FreePort.Next();
        await using var daemon = await sandbox.StartAsync(new DaemonConfig { Listen = string.Format(System.Globalization.CultureInfo.InvariantCulture, listen, port) });

        var answers = await Mta.SendMessageAsync(new IPEndPoint(IPAddress.Parse(address), port));

        Assert.Equal(ReplyCode.Continue, answers.EndOfMessage!.Code);
        Assert.False(File.Exists(sandbox.SocketPath));
    }
}
