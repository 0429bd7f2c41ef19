using System.Runtime.InteropServices;
using System.Text;
using System.Text.Json;
using System.Threading.Channels;
using CacheCluster.Node.Configuration;

namespace CacheCluster.Node.Management.AccessLog;

/// <summary>
/// Writes access-log lines from a background task: requests only enqueue a record (a bounded queue; when the
/// disk cannot keep up, records are dropped and counted, never waited for). SIGUSR1 reopens the file (what
/// Squid's `-k rotate` sends, so logrotate's `postrotate kill -USR1` works); with AccessLog:MaxSize the file is
/// also rotated by size: access.log → access.log.1 → … → access.log.N (AccessLog:MaxFiles), the oldest deleted.
/// </summary>
public sealed class AccessLogWriter : IAsyncDisposable
{
    private readonly AccessLogSettings _settings;
    private readonly string _node;
    private readonly ILogger<AccessLogWriter> _logger;
    private readonly Channel<AccessRecord>? _queue;
    private readonly Task? _writer;
    private long _dropped;
    private int _reopen;
    private readonly PosixSignalRegistration? _usr1;

    /// <summary>SIGUSR1 on Linux (PosixSignal names only the portable signals; raw numbers are allowed).</summary>
    private const int SigUsr1 = 10;

    public AccessLogWriter(NodeSettings settings, ILogger<AccessLogWriter> logger)
    {
        _settings = settings.AccessLog;
        _node = settings.NodeName;
        _logger = logger;
        if (_settings.Path is null) return;
        _queue = Channel.CreateBounded<AccessRecord>(new BoundedChannelOptions(64 * 1024)
        {
            FullMode = BoundedChannelFullMode.DropWrite,
            SingleReader = true,
        }, _ => Interlocked.Increment(ref _dropped));
        _writer = Task.Run(WriteLoopAsync);
        if (OperatingSystem.IsLinux()) // also for "-": logrotate's signal must not end the process
            _usr1 = PosixSignalRegistration.Create((PosixSignal)SigUsr1, context =>
            {
                context.Cancel = true; // SIGUSR1 would otherwise end the process
                Reopen();
            });
    }

    /// <summary>Closes the file and opens it again by name before the next line (after logrotate moved it away).</summary>
    public void Reopen()
    {
        Interlocked.Exchange(ref _reopen, 1);
        _logger.LogInformation("Access log {Path}: reopening (SIGUSR1)", _settings.Path);
        // Wake the writer so the old file is let go now, not at the next request.
        _queue?.Writer.TryWrite(Wake);
    }

    // A record that writes nothing: lets the writer act on a reopen when no request comes.
    private static readonly AccessRecord Wake = new(default, default, "", default, "", 0, 0, "", "", "", null, "", null, null, null, null);

    public bool Enabled => _queue is not null;

    /// <summary>Records dropped because the writer fell behind.</summary>
    public long Dropped => Interlocked.Read(ref _dropped);

    public void Write(AccessRecord record) => _queue?.Writer.TryWrite(record);

    private async Task WriteLoopAsync()
    {
        var reader = _queue!.Reader;
        var line = new StringBuilder(256);
        var json = new ArrayBufferWriterStream();
        Stream? file = null;
        long size = 0;
        try
        {
            while (await reader.WaitToReadAsync())
            {
                while (reader.TryRead(out var record))
                {
                    if (Interlocked.Exchange(ref _reopen, 0) == 1 && file is not null)
                    {
                        try { await file.DisposeAsync(); } catch (IOException) { }
                        file = null;
                        // Open the new file at once, as Squid does: the operator sees the rotation took.
                        try { (file, size) = Open(); }
                        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
                        {
                            _logger.LogWarning("Access log {Path}: cannot reopen ({Message}); will retry with the next line", _settings.Path, ex.Message);
                        }
                    }
                    if (ReferenceEquals(record, Wake)) continue;
                    byte[] bytes;
                    if (_settings.Format == AccessLogFormat.Json)
                    {
                        json.Reset();
                        using (var w = new Utf8JsonWriter(json)) record.WriteJson(w, _node, _settings.StripQuery);
                        json.WriteByte((byte)'\n');
                        bytes = json.ToArray();
                    }
                    else
                    {
                        line.Clear();
                        if (_settings.Format == AccessLogFormat.Squid) record.WriteSquid(line, _settings.StripQuery);
                        else record.WriteNcsa(line, _settings.StripQuery, combined: _settings.Format == AccessLogFormat.Combined);
                        line.Append('\n');
                        bytes = Encoding.UTF8.GetBytes(line.ToString());
                    }
                    try
                    {
                        if (file is not null && _settings.Path != "-" && _settings.MaxSizeBytes > 0 && size + bytes.Length > _settings.MaxSizeBytes && size > 0)
                        {
                            await file.DisposeAsync();
                            file = null;
                            Rotate();
                        }
                        if (file is null) (file, size) = Open();
                        await file.WriteAsync(bytes);
                        size += bytes.Length;
                    }
                    catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
                    {
                        Interlocked.Increment(ref _dropped);
                        _logger.LogWarning("Access log {Path}: cannot write ({Message}); lines are dropped until it works again", _settings.Path, ex.Message);
                        if (file is not null) { try { await file.DisposeAsync(); } catch (IOException) { } file = null; }
                        await Task.Delay(1000);
                    }
                }
                if (file is not null) { try { await file.FlushAsync(); } catch (IOException) { } }
            }
        }
        finally
        {
            if (file is not null) await file.DisposeAsync();
        }
    }

    private (Stream, long) Open()
    {
        if (_settings.Path == "-") return (Console.OpenStandardOutput(), 0);
        Directory.CreateDirectory(Path.GetDirectoryName(_settings.Path!)!);
        var stream = new FileStream(_settings.Path!, FileMode.Append, FileAccess.Write, FileShare.ReadWrite | FileShare.Delete, 64 * 1024);
        return (stream, stream.Length);
    }

    private void Rotate()
    {
        var path = _settings.Path!;
        if (_settings.MaxFiles == 0) { File.Delete(path); return; }
        var oldest = $"{path}.{_settings.MaxFiles}";
        if (File.Exists(oldest)) File.Delete(oldest);
        for (int i = _settings.MaxFiles - 1; i >= 1; i--)
            if (File.Exists($"{path}.{i}")) File.Move($"{path}.{i}", $"{path}.{i + 1}");
        File.Move(path, $"{path}.1");
    }

    public async ValueTask DisposeAsync()
    {
        if (_queue is null) return;
        _usr1?.Dispose();
        _queue.Writer.TryComplete();
        try { await _writer!.WaitAsync(TimeSpan.FromSeconds(5)); }
        catch (TimeoutException) { _logger.LogWarning("Access log: not every line was written before shutdown"); }
    }

    /// <summary>A reusable MemoryStream for JSON lines.</summary>
    private sealed class ArrayBufferWriterStream : MemoryStream
    {
        public void Reset() => SetLength(0);
    }
}
