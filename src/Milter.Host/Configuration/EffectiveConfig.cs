using Milter.Filters.Configuration;
using YamlDotNet.Core;
using YamlDotNet.Core.Events;

namespace MilterHost.Configuration;

/// <summary>
/// Prints options as milterhost.yaml with every setting spelt out (defaults included, paths
/// absolute), as <c>check-config</c> shows them. Secrets (a PostgreSQL password, the status token)
/// are printed as <c>********</c>; everything else loads back to the same options.
/// </summary>
public static class EffectiveConfig
{
    public static string ToYaml(DaemonOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        var writer = new StringWriter { NewLine = "\n" };
        var emitter = new Emitter(writer, new EmitterSettings().WithBestIndent(2).WithBestWidth(int.MaxValue).WithNewLine("\n").WithIndentedSequences());
        emitter.Emit(new StreamStart());
        emitter.Emit(new DocumentStart(null, null, isImplicit: true));
        ConfigSchema.Root.Write(emitter, options);
        emitter.Emit(new DocumentEnd(isImplicit: true));
        emitter.Emit(new StreamEnd());
        return writer.ToString();
    }
}
