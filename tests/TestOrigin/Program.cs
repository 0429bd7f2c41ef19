using System.Globalization;
using System.Runtime.InteropServices;
using Microsoft.Extensions.Logging;

namespace CacheCluster.TestOrigin;

/// <summary>
/// Runs the origin as a process:
/// <c>dotnet CacheCluster.TestOrigin.dll [--port N] [--https-port N] [--cert-out FILE] [--log-level LEVEL]</c>.
/// --port 0 picks a free port; the "origin listening on ..." lines tell which.
/// </summary>
public static class Program
{
    public static async Task<int> Main(string[] args)
    {
        var options = new OriginOptions { Port = 8080, ConsoleLogLevel = LogLevel.Warning, MaxRecordedRequests = 1000 };
        string? certOut = null;
        for (var i = 0; i < args.Length; i++)
        {
            string Next() => i + 1 < args.Length ? args[++i] : throw new ArgumentException($"{args[i]} needs a value");
            switch (args[i])
            {
                case "--port": options.Port = int.Parse(Next(), CultureInfo.InvariantCulture); break;
                case "--https-port": options.EnableHttps = true; options.HttpsPort = int.Parse(Next(), CultureInfo.InvariantCulture); break;
                case "--cert-out": certOut = Next(); break;
                case "--log-level": options.ConsoleLogLevel = Enum.Parse<LogLevel>(Next(), ignoreCase: true); break;
                case "-h" or "--help":
                    Console.WriteLine("usage: CacheCluster.TestOrigin [--port N (8080; 0 = any)] [--https-port N] [--cert-out FILE.pem] [--log-level Warning]");
                    return 0;
                default:
                    Console.Error.WriteLine($"unknown argument: {args[i]} (try --help)");
                    return 2;
            }
        }

        var stop = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        void OnSignal(PosixSignalContext context)
        {
            context.Cancel = true;
            stop.TrySetResult();
        }
        using var sigint = PosixSignalRegistration.Create(PosixSignal.SIGINT, OnSignal);
        using var sigterm = PosixSignalRegistration.Create(PosixSignal.SIGTERM, OnSignal);

        await using var server = await OriginServer.StartAsync(options);
        if (certOut is not null && server.Certificate is not null)
            await File.WriteAllTextAsync(certOut, SelfSignedCertificate.ToPem(server.Certificate));
        Console.WriteLine($"origin listening on {server.HttpBase}");
        if (server.HttpsBase is not null) Console.WriteLine($"origin listening on {server.HttpsBase}");
        Console.Out.Flush();

        await stop.Task;
        Console.WriteLine($"origin stopping after {server.TotalRequests} requests");
        return 0;
    }
}
