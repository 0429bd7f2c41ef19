using System.IO.Pipelines;

namespace CacheCluster.Node.Proxy.Responses;

/// <summary>
/// Writes stored chunks into Kestrel's response pipe, sent from the chunk itself where the connection allows it
/// (<see cref="LendingMemoryPool"/>) and otherwise with one copy. Measured on 64 KiB and 1 MiB hits, Kestrel's plain
/// write path copies more: body bytes written before the response has started are kept in buffers of their own and
/// copied into the pipe again behind the head at the first flush, and a 64 KiB span is cut into the pipe's 4 KiB
/// blocks, a lock and a block per piece.
/// </summary>
public static class ResponsePipe
{
    /// <summary>
    /// Puts the head into the response pipe without sending it (unless something already started the response), so
    /// the body written next goes straight into the pipe; the first flush sends head and body together.
    /// </summary>
    public static Task StartAsync(HttpResponse response, CancellationToken aborted) =>
        response.HasStarted ? Task.CompletedTask : response.StartAsync(aborted);

    /// <summary>How a chunk went into the response pipe.</summary>
    public enum Appended
    {
        /// <summary>The pipe holds the chunk itself: it costs the response no memory of its own.</summary>
        Lent,
        /// <summary>Copied into the pipe's memory.</summary>
        Copied,
        /// <summary>Nothing written: the connection is gone. The caller aborts the response.</summary>
        Gone,
    }

    /// <summary>
    /// Adds a stored chunk (an immutable array: never written after this) to a started content-length response, without
    /// a flush.
    /// </summary>
    public static Appended Append(HttpContext ctx, PipeWriter body, byte[] chunk)
    {
        if (chunk.Length == 0) return Appended.Lent;
        if (chunk.Length < LendingMemoryPool.SmallestLent || chunk.Length > LendingMemoryPool.LargestLent || !IsHttp1(ctx.Request.Protocol))
        {
            Copy(body, chunk);
            return Appended.Copied;
        }
        Memory<byte> memory;
        LendingMemoryPool.Offer(chunk);
        try { memory = body.GetMemory(chunk.Length); }
        finally { LendingMemoryPool.Withdraw(); }
        var appended = LendingMemoryPool.Classify(memory, chunk) switch
        {
            LendingMemoryPool.Lending.ThisChunk => Appended.Lent, // already written
            LendingMemoryPool.Lending.NotLent => Appended.Copied,
            _ => Appended.Gone, // another response's chunk, handed out for a gone connection's writes: never written into
        };
        if (appended == Appended.Copied) chunk.CopyTo(memory.Span);
        if (appended != Appended.Gone) body.Advance(chunk.Length);
        return appended;
    }

    private static void Copy(PipeWriter body, ReadOnlySpan<byte> chunk)
    {
        var span = body.GetSpan(chunk.Length);
        chunk.CopyTo(span);
        body.Advance(chunk.Length);
    }

    private static bool IsHttp1(string protocol) => HttpProtocol.IsHttp11(protocol) || HttpProtocol.IsHttp10(protocol);
}
