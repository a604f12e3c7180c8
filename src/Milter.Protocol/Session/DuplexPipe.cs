using System.IO.Pipelines;

namespace Milter.Protocol.Session;

/// <summary>A reader and a writer as one transport.</summary>
public sealed record DuplexPipe(PipeReader Input, PipeWriter Output) : IDuplexPipe;
