using Milter.Filters.Configuration;
using MilterHost.Chain;
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
    /// <summary>The core settings alone.</summary>
    public static string ToYaml(DaemonOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        return Write(emitter => ConfigSchema.Root.WriteFields(emitter, options));
    }

    /// <summary>The core settings, then the section of every plug-in filter of <paramref name="catalog"/> (written or not, defaults filled in).</summary>
    public static string ToYaml(LoadedConfig config, FilterCatalog catalog)
    {
        ArgumentNullException.ThrowIfNull(config);
        ArgumentNullException.ThrowIfNull(catalog);
        return Write(emitter =>
        {
            ConfigSchema.Root.WriteFields(emitter, config.Options);
            foreach (var plugIn in catalog.PlugIns)
                plugIn.WriteSection(emitter, config);
        });
    }

    private static string Write(Action<IEmitter> fields)
    {
        var writer = new StringWriter { NewLine = "\n" };
        var emitter = new Emitter(writer, new EmitterSettings().WithBestIndent(2).WithBestWidth(int.MaxValue).WithNewLine("\n").WithIndentedSequences());
        emitter.Emit(new StreamStart());
        emitter.Emit(new DocumentStart(null, null, isImplicit: true));
        Emit.MappingStart(emitter, flow: false);
        fields(emitter);
        Emit.MappingEnd(emitter);
        emitter.Emit(new DocumentEnd(isImplicit: true));
        emitter.Emit(new StreamEnd());
        return writer.ToString();
    }
}
