using System.Runtime.InteropServices;
using CacheCluster.Node.Configuration;
using CacheCluster.Node.Policy.Runtime;

namespace CacheCluster.Node.Hosting;

/// <summary>
/// SIGHUP reloads the configuration, as `squid -k reconfigure` does: the files are read again (appsettings.json,
/// the --config file, and the access-rule list files), the configuration is validated as at start-up, and the
/// refresh and access rules the operator has not changed at run time take the new lines. A configuration with
/// errors changes nothing and the errors are logged with their keys. htpasswd files are re-read on change anyway.
/// Settings that shape listeners, the store or the cluster need a restart (the log says so).
/// </summary>
public sealed class ConfigReload(IConfiguration configuration, RuntimePolicy policy, ILogger<ConfigReload> logger) : IHostedService, IDisposable
{
    private PosixSignalRegistration? _registration;
    private int _running;

    // Set by the start-up handler while this service is not started yet; 1: a SIGHUP came meanwhile.
    private static int _early;
    private static volatile ConfigReload? _started;
    private static volatile bool _held;

    /// <summary>Holds SIGHUP from process start: until the service starts, a SIGHUP is remembered (and run then)
    /// instead of ending the process.</summary>
    public static IDisposable? HoldEarlySignals()
    {
        if (OperatingSystem.IsWindows()) return null;
        _held = true;
        return PosixSignalRegistration.Create(PosixSignal.SIGHUP, context =>
        {
            context.Cancel = true; // the default for SIGHUP is to terminate
            if (_started is { } reload) _ = Task.Run(reload.Reload);
            else Volatile.Write(ref _early, 1);
        });
    }

    public Task StartAsync(CancellationToken cancellationToken)
    {
        if (!OperatingSystem.IsWindows())
            _registration = PosixSignalRegistration.Create(PosixSignal.SIGHUP, context =>
            {
                context.Cancel = true; // the default for SIGHUP is to terminate
                if (!_held) _ = Task.Run(Reload); // else the start-up handler runs it (nodes hosted in-process have none)
            });
        _started = this;
        if (Interlocked.Exchange(ref _early, 0) == 1) _ = Task.Run(Reload);
        return Task.CompletedTask;
    }

    /// <summary>Reloads now (also what SIGHUP runs). True when the new configuration was taken.</summary>
    public bool Reload()
    {
        if (Interlocked.Exchange(ref _running, 1) == 1) return false; // one at a time; a second HUP meanwhile is folded in
        try
        {
            logger.LogInformation("Reloading the configuration (SIGHUP)");
            (configuration as IConfigurationRoot)?.Reload();
            NodeSettings fresh;
            try { fresh = NodeSettings.Load(configuration, Directory.GetCurrentDirectory()); }
            catch (NodeConfigurationException ex)
            {
                logger.LogError("Configuration reload refused, nothing changed:\n  {Errors}", string.Join("\n  ", ex.Errors));
                return false;
            }
            try { policy.Reconfigure(fresh); }
            catch (ArgumentException ex)
            {
                logger.LogError("Configuration reload stopped: {Error}; the rules in force are unchanged", ex.Message);
                return false;
            }
            var snapshot = policy.Snapshot();
            logger.LogInformation("Configuration reloaded (SIGHUP): {Refresh} refresh rule(s), {Access} access rule(s) in force; listeners, store and cluster settings change only on restart",
                snapshot.RefreshRules.Length, snapshot.AccessRules.Length);
            return true;
        }
        finally { Volatile.Write(ref _running, 0); }
    }

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public void Dispose() => _registration?.Dispose();
}
