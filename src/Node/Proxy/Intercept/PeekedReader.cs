using System.Buffers;
using System.IO.Pipelines;
using Microsoft.AspNetCore.Connections;

namespace CacheCluster.Node.Proxy.Intercept;

/// <summary>
/// The client's input after the ClientHello peek: the peeked bytes first, then everything the connection brings.
/// The peek takes the bytes it looked at out of the connection's pipe (a pipe cannot hand out bytes again once they
/// were examined: it would wait for more while the client waits for an answer), so they are replayed here through a
/// pipe of our own, followed by a copy of the rest of the input (bounded by the pipe's back-pressure).
/// </summary>
public sealed class PeekedReader
{
    private PeekedReader(PipeReader reader, Task drained) => (Reader, Drained) = (reader, drained);

    /// <summary>The input to read from now on: the peeked bytes, then the rest of the connection's input.</summary>
    public PipeReader Reader { get; }

    /// <summary>Completes when the client's side has ended (it closed, or the reader above was completed and the copy stopped).</summary>
    public Task Drained { get; }

    public static PeekedReader Replay(ReadOnlySequence<byte> peeked, PipeReader inner)
    {
        var pipe = new Pipe(new PipeOptions(useSynchronizationContext: false));
        foreach (var segment in peeked) pipe.Writer.Write(segment.Span);
        return new PeekedReader(pipe.Reader, CopyAsync(inner, pipe.Writer));
    }

    /// <summary>The connection's input as it is (nothing was peeked): it ends with the connection.</summary>
    public static PeekedReader AsIs(PipeReader inner) => new(inner, Task.CompletedTask);

    private static async Task CopyAsync(PipeReader from, PipeWriter to)
    {
        Exception? error = null;
        try
        {
            if ((await to.FlushAsync()).IsCompleted) return;
            while (true)
            {
                var result = await from.ReadAsync();
                foreach (var segment in result.Buffer) to.Write(segment.Span);
                from.AdvanceTo(result.Buffer.End);
                if (result.IsCompleted || result.IsCanceled) break;
                if ((await to.FlushAsync()).IsCompleted) break; // the reader is done with the tunnel
            }
        }
        catch (Exception ex) when (ex is IOException or InvalidOperationException or OperationCanceledException or ConnectionResetException) { error = ex; }
        finally { await to.CompleteAsync(error is ConnectionResetException ? error : null); }
    }
}
