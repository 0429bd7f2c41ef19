using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Runtime.InteropServices;
using Npgsql;

namespace CacheCluster.Cluster.Tests.Support;

/// <summary>
/// A throw-away PostgreSQL server, started the way scripts/cluster-up.sh does it: initdb into a temporary folder,
/// listening on 127.0.0.1 only (free port, socket in that folder), `pg_ctl -w start`, `createdb`; stopped and
/// deleted on dispose. As root (CI) every PostgreSQL program runs as the postgres user (`runuser -u postgres --`),
/// since PostgreSQL refuses to run as root; the folder is made theirs. Binaries: /usr/lib/postgresql/*/bin
/// (Debian package postgresql), the newest version found.
/// </summary>
public sealed class PostgresFixture : IAsyncLifetime
{
    public const string User = "postgres";
    /// <summary>Authentication is trust (loopback only); the password is there to prove it never leaks into messages.</summary>
    public const string Password = "pw-7f3a9c-never-printed";
    public const string Database = "cachecluster";

    private string _bin = "";
    private string _root = "";
    private string _options = "";
    private string DataDir => Path.Combine(_root, "data");

    public int Port { get; private set; }
    public TimeSpan StartTime { get; private set; }

    public string ConnectionString(string database = Database) =>
        $"Host=127.0.0.1;Port={Port};Database={database};Username={User};Password={Password}";

    public async Task InitializeAsync()
    {
        var clock = Stopwatch.StartNew();
        _bin = FindBinaries();
        // As root, use /tmp (TMPDIR may point into root's home, which the postgres user cannot enter).
        var tmp = IsRoot ? "/tmp" : Path.GetTempPath();
        _root = Path.Combine(tmp, $"cachecluster-pg-{Guid.NewGuid():N}"[..32]);
        Directory.CreateDirectory(_root);
        if (IsRoot) await RunAsync("chown", [$"{User}:{User}", _root], asPostgres: false);

        await RunAsync(Path.Combine(_bin, "initdb"),
            ["-D", DataDir, "-U", User, "--auth=trust", "--encoding=UTF8", "--locale=C", "--no-sync"]);

        for (var attempt = 1; ; attempt++)
        {
            Port = FreePort();
            var options = _options = $"-c listen_addresses=127.0.0.1 -c port={Port} -c unix_socket_directories={_root} " +
                          "-c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=200";
            try
            {
                await RunAsync(Path.Combine(_bin, "pg_ctl"),
                    ["-D", DataDir, "-l", Path.Combine(_root, "postgres.log"), "-w", "-t", "60", "-o", options, "start"]);
                break;
            }
            catch (InvalidOperationException) when (attempt < 3) { } // the port was taken meanwhile: another one
        }
        await RunAsync(Path.Combine(_bin, "createdb"), ["-h", "127.0.0.1", "-p", Port.ToString(), "-U", User, Database]);
        StartTime = clock.Elapsed;
    }

    /// <summary>Stops the server (fast shutdown: sessions are disconnected), as an outage would; <see cref="StartAgainAsync"/> brings it back.</summary>
    public async Task StopAsync()
    {
        NpgsqlConnection.ClearAllPools();
        await RunAsync(Path.Combine(_bin, "pg_ctl"), ["-D", DataDir, "-m", "fast", "-w", "-t", "60", "stop"]);
    }

    /// <summary>Starts the stopped server again on the same port.</summary>
    public Task StartAgainAsync() =>
        RunAsync(Path.Combine(_bin, "pg_ctl"), ["-D", DataDir, "-l", Path.Combine(_root, "postgres.log"), "-w", "-t", "60", "-o", _options, "start"]);

    /// <summary>A fresh, empty database on this server (one per test keeps tests independent).</summary>
    public async Task<string> CreateDatabaseAsync(string prefix)
    {
        var name = $"{prefix}_{Guid.NewGuid():N}"[..Math.Min(prefix.Length + 13, 60)].ToLowerInvariant();
        await using var conn = new NpgsqlConnection(ConnectionString(Database));
        await conn.OpenAsync();
        await using var cmd = new NpgsqlCommand($"CREATE DATABASE \"{name}\"", conn);
        await cmd.ExecuteNonQueryAsync();
        return ConnectionString(name);
    }

    public async Task DisposeAsync()
    {
        NpgsqlConnection.ClearAllPools();
        if (_root.Length == 0) return;
        try
        {
            if (File.Exists(Path.Combine(DataDir, "postmaster.pid")))
                await RunAsync(Path.Combine(_bin, "pg_ctl"), ["-D", DataDir, "-m", "immediate", "-w", "stop"]);
        }
        finally
        {
            try { Directory.Delete(_root, recursive: true); } catch (IOException) { } catch (UnauthorizedAccessException) { }
        }
    }

    /// <summary>The server's log, for failure messages.</summary>
    public string Log => File.Exists(Path.Combine(_root, "postgres.log")) ? File.ReadAllText(Path.Combine(_root, "postgres.log")) : "";

    private static string FindBinaries()
    {
        const string baseDir = "/usr/lib/postgresql";
        var candidates = Directory.Exists(baseDir)
            ? Directory.GetDirectories(baseDir)
                .Select(d => (Dir: Path.Combine(d, "bin"), Version: int.TryParse(Path.GetFileName(d), out var v) ? v : 0))
                .Where(c => File.Exists(Path.Combine(c.Dir, "initdb")) && File.Exists(Path.Combine(c.Dir, "pg_ctl")))
                .OrderByDescending(c => c.Version).ToList()
            : [];
        if (candidates.Count == 0)
            throw new InvalidOperationException(
                $"PostgreSQL server binaries not found under {baseDir}/*/bin: install them (Debian: apt-get install postgresql; .ci/run does)");
        return candidates[0].Dir;
    }

    [DllImport("libc", EntryPoint = "geteuid")]
    private static extern uint GetEuid();

    private static bool IsRoot => OperatingSystem.IsLinux() && GetEuid() == 0;

    private static int FreePort()
    {
        using var l = new TcpListener(IPAddress.Loopback, 0);
        l.Start();
        return ((IPEndPoint)l.LocalEndpoint).Port;
    }

    /// <summary>Runs a program (as the postgres user when we are root) and fails with its output on a non-zero exit.</summary>
    private static async Task RunAsync(string program, string[] args, bool asPostgres = true)
    {
        var psi = new ProcessStartInfo(asPostgres && IsRoot ? "runuser" : program)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
            WorkingDirectory = "/",
        };
        if (asPostgres && IsRoot)
            foreach (var a in new[] { "-u", User, "--", program }) psi.ArgumentList.Add(a);
        foreach (var a in args) psi.ArgumentList.Add(a);
        psi.Environment["LC_ALL"] = "C";
        using var p = Process.Start(psi)!;
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEndAsync();
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(90));
        await p.WaitForExitAsync(cts.Token);
        if (p.ExitCode != 0)
            throw new InvalidOperationException(
                $"{Path.GetFileName(program)} {string.Join(' ', args)} exited with {p.ExitCode}:\n{await stdout}\n{await stderr}");
    }
}

[CollectionDefinition(Name)]
public sealed class PostgresCollection : ICollectionFixture<PostgresFixture>
{
    public const string Name = "PostgreSQL";
}
