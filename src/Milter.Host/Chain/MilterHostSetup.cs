using Microsoft.Extensions.DependencyInjection;

namespace MilterHost.Chain;

/// <summary>
/// What an executable adds to the host: its own services and filters
/// (<see cref="MilterFilterServiceCollectionExtensions.AddMilterFilter{TOptions}"/>). The daemon
/// applies it to the host's service collection; check-config, simulate and the admin commands read
/// the same registrations, so they accept the same <c>filters:</c> names and sections.
/// </summary>
public sealed class MilterHostSetup
{
    private readonly Action<IServiceCollection>? _configure;
    private readonly ServiceCollection _services = [];

    public MilterHostSetup(Action<IServiceCollection>? configure = null)
    {
        _configure = configure;
        configure?.Invoke(_services);
        Catalog = FilterCatalog.From(_services);
    }

    /// <summary>The built-in filters and nothing else: the stock <c>milterhost</c>.</summary>
    public static MilterHostSetup BuiltIn { get; } = new();

    /// <summary>The filters this executable can build.</summary>
    public FilterCatalog Catalog { get; }

    /// <summary>Adds the executable's services to the host's collection.</summary>
    public void Configure(IServiceCollection services) => _configure?.Invoke(services);

    /// <summary>The executable's services without a host (for <c>simulate</c>).</summary>
    public IServiceProvider BuildServices() => _services.BuildServiceProvider();
}
