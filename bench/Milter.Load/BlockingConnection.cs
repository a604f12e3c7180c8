using System.Net;
using System.Net.Sockets;
using Milter.Protocol.Client;

namespace Milter.Load;

/// <summary>
/// A milter connection as sendmail makes one: a blocking socket, read and written by the one thread
/// that plays the SMTP session. The stream's async methods do the blocking call and return a completed
/// task, so <see cref="MilterClient"/>'s async code runs straight through on the caller's thread and
/// never touches the socket engine or the thread pool.
/// <para>With <see cref="Wait.Select"/> every read and write first waits for the socket to be ready,
/// as sendmail's milter_sysread and milter_write do (its MILTER_TIMEOUT: select, then read or writev)
/// whenever the milter's timeouts are set, as they are by default; Postfix's milter8 waits in poll the
/// same way. A thread asleep in a plain blocking read is also woken each time the filter drains what it
/// wrote (the kernel's write-space wake-up does not ask what the sleeper waits for); one asleep in
/// select or poll is woken only by the reply. <see cref="Wait.Read"/> is the plain blocking read, as the
/// generator did before 2026-12-06.</para>
/// </summary>
public static class BlockingConnection
{
    /// <summary>How long a connect, a read or a write may block before the session fails (sendmail's own milter timeouts are seconds to minutes).</summary>
    public static readonly TimeSpan Timeout = TimeSpan.FromSeconds(60);

    public static MilterClient Connect(EndPoint endPoint, Wait wait)
    {
        var socket = endPoint is UnixDomainSocketEndPoint
            ? new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified)
            : new Socket(endPoint.AddressFamily, SocketType.Stream, ProtocolType.Tcp);
        try
        {
            // A Unix listener whose queue is full makes a blocking connect wait, as sendmail's does, up
            // to the send timeout; then it fails with EAGAIN.
            socket.SendTimeout = socket.ReceiveTimeout = (int)Timeout.TotalMilliseconds;
            socket.Connect(endPoint);
            if (socket.ProtocolType == ProtocolType.Tcp)
                socket.NoDelay = true;
        }
        catch
        {
            socket.Dispose();
            throw;
        }
        return MilterClient.Over(new SocketStream(socket, wait == Wait.Select));
    }

    private sealed class SocketStream(Socket socket, bool select) : Stream
    {
        public override bool CanRead => true;
        public override bool CanWrite => true;
        public override bool CanSeek => false;
        public override long Length => throw new NotSupportedException();
        public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }

        public override int Read(Span<byte> buffer)
        {
            if (select)
                WaitFor(SelectMode.SelectRead);
            return socket.Receive(buffer, SocketFlags.None);
        }
        public override int Read(byte[] buffer, int offset, int count) => Read(buffer.AsSpan(offset, count));
        public override ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default) => new(Read(buffer.Span));
        public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) => Task.FromResult(Read(buffer.AsSpan(offset, count)));

        public override void Write(ReadOnlySpan<byte> buffer)
        {
            while (!buffer.IsEmpty)
            {
                if (select)
                    WaitFor(SelectMode.SelectWrite);
                buffer = buffer[socket.Send(buffer, SocketFlags.None)..];
            }
        }

        /// <summary>poll(2) for one event, up to <see cref="Timeout"/>, as sendmail's select.</summary>
        private void WaitFor(SelectMode mode)
        {
            if (!socket.Poll(Timeout, mode))
                throw new SocketException((int)SocketError.TimedOut);
        }

        public override void Write(byte[] buffer, int offset, int count) => Write(buffer.AsSpan(offset, count));

        public override ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default)
        {
            Write(buffer.Span);
            return ValueTask.CompletedTask;
        }

        public override Task WriteAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken)
        {
            Write(buffer.AsSpan(offset, count));
            return Task.CompletedTask;
        }

        public override void Flush() { }
        public override Task FlushAsync(CancellationToken cancellationToken) => Task.CompletedTask;
        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
        public override void SetLength(long value) => throw new NotSupportedException();

        protected override void Dispose(bool disposing)
        {
            if (disposing)
                socket.Dispose();
            base.Dispose(disposing);
        }
    }
}

/// <summary>How a blocking connection waits for the filter (<c>--wait</c>).</summary>
public enum Wait { Select, Read }
