using System.Globalization;
using System.Runtime;

namespace MilterHost.Hosting;

/// <summary>
/// The runtime settings a postmaster looking at the daemon's memory or CPU wants to know, as the runtime
/// took them: the project file sets them and the environment (DOTNET_...) may override them, so the GC's
/// own view is the one that counts.
/// </summary>
internal static class RuntimeSettings
{
    // DATAS' default upper bound on the allocation budget, as a multiple of the data that survives (the runtime's 10,000 per mille).
    private const long DefaultGen0GrowthMaxPerMille = 10_000;

    public static string Describe()
    {
        var gc = GC.GetConfigurationVariables();
        var collector = GCSettings.IsServerGC ? "server" : "workstation";
        // DATAS adapts the server GC only.
        var datas = GCSettings.IsServerGC && Number(gc, "GCDynamicAdaptationMode") == 1;
        var factor = Number(gc, "GCDGen0GrowthMaxFactor") is { } perMille and > 0 ? perMille : DefaultGen0GrowthMaxPerMille;
        var threads = Environment.GetEnvironmentVariable(Daemon.SocketThreadsVariable) ?? "the runtime's default";
        return string.Create(CultureInfo.InvariantCulture,
            $"{collector} GC, {(datas ? $"dynamic adaptation (DATAS) with an allocation budget of at most {factor / 1000.0:0.##} times the surviving data" : "no dynamic adaptation")}; socket threads: {threads}");
    }

    private static long? Number(IReadOnlyDictionary<string, object> variables, string name) =>
        variables.TryGetValue(name, out var value) ? Convert.ToInt64(value, CultureInfo.InvariantCulture) : null;
}
