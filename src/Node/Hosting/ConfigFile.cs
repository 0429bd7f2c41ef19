using Microsoft.Extensions.Configuration.Json;

namespace CacheCluster.Node.Hosting;

/// <summary>
/// `--config FILE` (or `--config=FILE`): a JSON settings file anywhere, relative to the current folder, read after
/// the appsettings.json beside the binary and before environment variables and command-line switches (so those
/// still override it). A missing or malformed file stops the start with its name.
/// </summary>
public static class ConfigFile
{
    public static void Add(ConfigurationManager configuration, string[] args)
    {
        string? path = null;
        for (int i = 0; i < args.Length; i++)
        {
            if (args[i] == "--config" && i + 1 < args.Length) path = args[i + 1];
            else if (args[i].StartsWith("--config=", StringComparison.Ordinal)) path = args[i]["--config=".Length..];
        }
        if (path is null) return;
        if (string.IsNullOrWhiteSpace(path))
            throw new Configuration.NodeConfigurationException(["--config: give the path of a JSON settings file"]);
        var full = Path.GetFullPath(path.Trim());
        if (!File.Exists(full))
            throw new Configuration.NodeConfigurationException([$"--config: the file '{path}' does not exist"]);
        var source = new JsonConfigurationSource { Path = Path.GetFileName(full), Optional = false, ReloadOnChange = false };
        source.FileProvider = new Microsoft.Extensions.FileProviders.PhysicalFileProvider(Path.GetDirectoryName(full)!);
        var sources = configuration.Sources;
        // Right after the last JSON file (appsettings.json, appsettings.{Environment}.json): above them, below the rest.
        int at = 0;
        for (int i = 0; i < sources.Count; i++) if (sources[i] is JsonConfigurationSource) at = i + 1;
        try { sources.Insert(at, source); }
        catch (InvalidDataException ex)
        {
            throw new Configuration.NodeConfigurationException([$"--config: '{path}' is not valid JSON: {ex.InnerException?.Message ?? ex.Message}"]);
        }
    }
}
