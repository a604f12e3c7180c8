using System.Buffers.Binary;
using System.Net.Sockets;
using Milter.Protocol.Wire;

namespace Milter.Protocol.Session;

/// <summary>
/// Looks at a connection's socket while the handler works on a stage, without taking anything from
/// it: an MTA that waits for the answer sends nothing meanwhile, except when it gives up on the
/// filter (sendmail's milter timeouts): then it sends QUIT and closes. Either one, or the end of the
/// stream, means no one will read the answer.
/// </summary>
/// <remarks>
/// A look is never cancelled: a cancelled socket operation completes through the thread pool with
/// an <see cref="OperationCanceledException"/>, one per slow stage (over a thousand a second under
/// churn). A look the handler outlived stays pending instead and ends when the MTA's next frame
/// arrives; the socket queues the session's own read behind it and serves both from that arrival.
/// A later slow stage waits on the same look while it is still pending.
/// </remarks>
internal sealed class PeerWatch(Socket socket)
{
    // Enough for the QUIT frame behind a few macro or no-reply frames; a longer look is not needed,
    // since whatever else arrived ends the watch anyway.
    private readonly byte[] _peek = new byte[64];
    private Task<bool>? _look;

    /// <summary>
    /// Completes with true once the MTA left (the end of the stream, a reset, or a QUIT among the
    /// frames waiting), false when something else arrived first. The look still pending from an
    /// earlier stage, or a new one.
    /// </summary>
    public Task<bool> LeftAsync()
    {
        var look = _look;
        if (look is null || look.IsCompleted)
            _look = look = LookAsync();
        return look;
    }

    private async Task<bool> LookAsync()
    {
        int n;
        try
        {
            n = await socket.ReceiveAsync(_peek, SocketFlags.Peek).ConfigureAwait(false);
        }
        catch (SocketException)
        {
            return true; // reset
        }
        catch (ObjectDisposedException)
        {
            return true;
        }
        return n == 0 || HasQuit(_peek.AsSpan(0, n));
    }

    /// <summary>
    /// Whether whole frames at the start of <paramref name="bytes"/> include QUIT. The look may start
    /// inside a frame (the session's read took the first part of a long one the MTA sent without
    /// waiting), so only what reads as frames counts: a known command byte after each length, and
    /// QUIT exactly as the MTA writes it (length 1, no payload); anything else is no QUIT.
    /// </summary>
    internal static bool HasQuit(ReadOnlySpan<byte> bytes)
    {
        while (bytes.Length >= 5)
        {
            var length = BinaryPrimitives.ReadUInt32BigEndian(bytes);
            if (length == 0 || !Enum.IsDefined((CommandCode)bytes[4]))
                return false;
            if (bytes[4] == (byte)CommandCode.Quit)
                return length == 1;
            if (length > (uint)(bytes.Length - 4))
                return false;
            bytes = bytes[(4 + (int)length)..];
        }
        return false;
    }
}
