using Microsoft.Extensions.DependencyInjection;
using Milter.Filters;

namespace MilterHost.Chain;

/// <summary>Registers filters the host builds by name, in the order the YAML <c>filters:</c> list gives.</summary>
public static class MilterFilterServiceCollectionExtensions
{
    /// <summary>
    /// Registers a filter named <paramref name="name"/>, with its options in the top-level YAML section
    /// of the same name (read by <paramref name="section"/>); <paramref name="create"/> makes it at
    /// start and on every reload when <c>filters:</c> lists the name, or returns null when its options
    /// switch it off.
    /// </summary>
    public static IServiceCollection AddMilterFilter<TOptions>(this IServiceCollection services, string name, FilterSection<TOptions> section,
        Func<FilterBuildContext, TOptions, IMilterFilter?> create) where TOptions : class
    {
        ArgumentNullException.ThrowIfNull(services);
        ArgumentNullException.ThrowIfNull(section);
        ArgumentNullException.ThrowIfNull(create);
        if (FilterCatalog.BuiltIn.Find(name) is not null)
            throw new ArgumentException($"'{name}' is a built-in filter", nameof(name));
        services.AddSingleton(MilterFilterRegistration.PlugIn(name, section, create));
        return services;
    }
}
