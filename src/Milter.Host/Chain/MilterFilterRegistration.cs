using YamlDotNet.Core;
using Milter.Filters;
using Milter.Filters.Configuration;
using MilterHost.Configuration;

namespace MilterHost.Chain;

/// <summary>
/// A filter the host can build by name: the name <c>filters:</c> lists, the YAML section that holds
/// its options (read and checked with file:line:column errors like the rest of the file), and the
/// factory that makes the filter from that section for each configuration generation. The factory
/// returns null when the section switches the filter off. Register with
/// <see cref="MilterFilterServiceCollectionExtensions.AddMilterFilter{TOptions}"/>.
/// </summary>
public abstract class MilterFilterRegistration
{
    private protected MilterFilterRegistration(string name)
    {
        ArgumentException.ThrowIfNullOrEmpty(name);
        if (!FilterSection.IsKey(name))
            throw new ArgumentException($"'{name}' is not a filter name: lower-case letters, digits and '_'", nameof(name));
        Name = name;
    }

    /// <summary>The filter's name in <c>filters:</c>, the decision log, <c>simulate</c> and <c>/metrics</c>.</summary>
    public string Name { get; }

    /// <summary>The top-level YAML key of a section the core schema does not know (a plug-in's); null for the built-in filters.</summary>
    internal abstract string? SectionKey { get; }

    /// <summary>Reads a plug-in's section; false after reporting errors.</summary>
    internal abstract bool TryReadSection(Binder binder, YNode node, out object section);

    /// <summary>The filter for one generation, or null when its section switches it off.</summary>
    internal abstract IMilterFilter? Create(FilterBuildContext context, LoadedConfig config);

    /// <summary>A plug-in's section as <c>check-config</c> prints it: its key, <c>mode:</c> when written, every setting (defaults filled in). A built-in filter's is the core schema's.</summary>
    internal abstract void WriteSection(IEmitter emitter, LoadedConfig config);

    /// <summary>A built-in filter whose options are part of <see cref="MilterOptions"/>.</summary>
    internal static MilterFilterRegistration BuiltIn<TOptions>(string name, Func<MilterOptions, TOptions> section, Func<FilterBuildContext, TOptions, IMilterFilter?> create) =>
        new BuiltInRegistration<TOptions>(name, section, create);

    /// <summary>A plug-in filter with its own top-level section, named like the filter.</summary>
    internal static MilterFilterRegistration PlugIn<TOptions>(string name, FilterSection<TOptions> section, Func<FilterBuildContext, TOptions, IMilterFilter?> create)
        where TOptions : class =>
        new PlugInRegistration<TOptions>(name, section, create);

    private sealed class BuiltInRegistration<TOptions>(string name, Func<MilterOptions, TOptions> section, Func<FilterBuildContext, TOptions, IMilterFilter?> create)
        : MilterFilterRegistration(name)
    {
        internal override string? SectionKey => null;

        internal override bool TryReadSection(Binder binder, YNode node, out object value) =>
            throw new InvalidOperationException($"{Name} is read by the core schema");

        internal override IMilterFilter? Create(FilterBuildContext context, LoadedConfig config) => create(context, section(config.Options));

        internal override void WriteSection(IEmitter emitter, LoadedConfig config) =>
            throw new InvalidOperationException($"{Name} is printed by the core schema");
    }

    private sealed class PlugInRegistration<TOptions>(string name, FilterSection<TOptions> section, Func<FilterBuildContext, TOptions, IMilterFilter?> create)
        : MilterFilterRegistration(name) where TOptions : class
    {
        internal override string? SectionKey => Name;

        internal override bool TryReadSection(Binder binder, YNode node, out object value)
        {
            var ok = section.Schema.TryRead(binder, node, Name, out var options);
            value = options;
            return ok;
        }

        internal override IMilterFilter? Create(FilterBuildContext context, LoadedConfig config) =>
            create(context, OptionsOf(config));

        // The same mapping as a built-in filter's section: mode: when written, then the settings.
        internal override void WriteSection(IEmitter emitter, LoadedConfig config)
        {
            Emit.Key(emitter, Name);
            new ModedSection<TOptions>(section.Schema).Write(emitter,
                new Moded<TOptions>(OptionsOf(config), config.Options.FilterModes.TryGetValue(Name, out var mode) ? mode : null));
        }

        private TOptions OptionsOf(LoadedConfig config) =>
            config.Sections.TryGetValue(Name, out var written) ? (TOptions)written : section.Defaults();
    }
}
