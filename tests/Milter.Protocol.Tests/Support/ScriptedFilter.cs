using System.Buffers;
using System.IO.Pipelines;
using Milter.Protocol.Client;
using Milter.Protocol.Session;

namespace Milter.Protocol.Tests.Support;

/// <summary>
/// A filter played by the test: replies are queued up front, and whatever the
/// <see cref="MilterClient"/> wrote is taken out as raw bytes.
/// </summary>
public sealed class ScriptedFilter
{
    private readonly Pipe _toFilter = new(PipeSession.Inline);
    private readonly Pipe _toMta = new(PipeSession.Inline);

    public ScriptedFilter() => Client = new MilterClient(new DuplexPipe(_toMta.Reader, _toFilter.Writer));

    public MilterClient Client { get; }

    /// <summary>Queues reply frames for the client to read.</summary>
    public void Reply(params byte[][] frames)
    {
        foreach (var f in frames)
            _toMta.Writer.Write(f);
        _toMta.Writer.FlushAsync().AsTask().GetAwaiter().GetResult();
    }

    /// <summary>The filter hangs up.</summary>
    public void Close() => _toMta.Writer.Complete();

    /// <summary>All bytes the client has written since the last call.</summary>
    public byte[] TakeWritten()
    {
        if (!_toFilter.Reader.TryRead(out var result))
            return [];
        var bytes = result.Buffer.ToArray();
        _toFilter.Reader.AdvanceTo(result.Buffer.End);
        return bytes;
    }
}
