using System.Buffers;
using System.IO.Pipelines;
using System.Runtime.InteropServices;
using CacheCluster.Node.Proxy;
using CacheCluster.Node.Proxy.Responses;
using Microsoft.AspNetCore.Http;

namespace CacheCluster.Node.Tests.Proxy.Responses;

/// <summary>
/// Stored chunks written into a response pipe built as Kestrel builds a connection's (4 KiB blocks from the
/// connection's pool, here wrapped in <see cref="LendingMemoryPool"/>): large chunks travel as themselves, small ones
/// are copied, and what the reader gets is the body, byte for byte, with the chunks left as they were.
/// </summary>
public class ResponsePipeTests
{
    /// <summary>Kestrel's pool as the pipe sees it: 4 KiB blocks.</summary>
    private sealed class BlockPool : MemoryPool<byte>
    {
        public int Rented;
        public override int MaxBufferSize => 4096;
        public override IMemoryOwner<byte> Rent(int minBufferSize = -1)
        {
            Rented++;
            return Shared.Rent(4096);
        }
        protected override void Dispose(bool disposing) { }
    }

    private static byte[] Random(int length, int seed)
    {
        var bytes = new byte[length];
        new Random(seed).NextBytes(bytes);
        return bytes;
    }

    /// <summary>A full stored chunk (the store's chunk size, a little under 64 KiB).</summary>
    private const int Chunk = RangeResponder.StoreChunkBytes;

    private static byte[]? Array(ReadOnlyMemory<byte> memory) => MemoryMarshal.TryGetArray(memory, out var segment) ? segment.Array : null;

    private static bool Holds(ReadOnlySequence<byte> buffer, byte[] chunk)
    {
        foreach (var segment in buffer)
            if (ReferenceEquals(Array(segment), chunk)) return true;
        return false;
    }

    private static HttpContext Http11() => new DefaultHttpContext { Request = { Protocol = "HTTP/1.1" } };

    private static Pipe PipeOver(MemoryPool<byte> pool) =>
        new(new PipeOptions(pool, PipeScheduler.Inline, PipeScheduler.Inline, pauseWriterThreshold: 0, useSynchronizationContext: false));

    [Fact]
    public async Task Large_chunks_are_sent_from_themselves_small_ones_copied_and_the_reader_gets_the_body_exactly()
    {
        var pipe = PipeOver(new LendingMemoryPool(new BlockPool()));
        var head = "HTTP/1.1 200 OK\r\nContent-Length: 88064\r\n\r\n"u8.ToArray();
        head.CopyTo(pipe.Writer.GetSpan(head.Length)); // Kestrel's head goes into a block of its own
        pipe.Writer.Advance(head.Length);
        byte[] a = Random(Chunk, 1), b = Random(10 * 1024, 2), c = Random(2 * 1024, 3);
        byte[] aBefore = a.ToArray(), bBefore = b.ToArray();
        foreach (var chunk in new[] { a, b, c }) Assert.Equal(chunk.Length >= 4096 ? ResponsePipe.Appended.Lent : ResponsePipe.Appended.Copied, ResponsePipe.Append(Http11(), pipe.Writer, chunk));
        await pipe.Writer.FlushAsync();

        var read = await pipe.Reader.ReadAsync();
        Assert.Equal([.. head, .. a, .. b, .. c], read.Buffer.ToArray());
        Assert.True(Holds(read.Buffer, a)); // sent from the chunk itself
        Assert.True(Holds(read.Buffer, b));
        Assert.False(Holds(read.Buffer, c)); // 2 KiB: copied into a block
        pipe.Reader.AdvanceTo(read.Buffer.End);

        // The pipe goes on with other responses: the chunks it held are never written into.
        for (int i = 0; i < 40; i++)
        {
            var other = Random(Chunk, 100 + i);
            Assert.Equal(ResponsePipe.Appended.Lent, ResponsePipe.Append(Http11(), pipe.Writer, i % 2 == 0 ? other : other.AsSpan(0, 5000).ToArray()));
            pipe.Writer.GetSpan(100).Fill(0xEE);
            pipe.Writer.Advance(100);
            await pipe.Writer.FlushAsync();
            var more = await pipe.Reader.ReadAsync();
            pipe.Reader.AdvanceTo(more.Buffer.End);
        }
        Assert.Equal(aBefore, a);
        Assert.Equal(bBefore, b);
    }

    [Fact]
    public async Task Without_the_lending_pool_every_chunk_is_copied_and_the_body_is_the_same()
    {
        var pool = new BlockPool();
        var pipe = PipeOver(pool);
        byte[] a = Random(Chunk, 4), b = Random(1000, 5);
        Assert.Equal(ResponsePipe.Appended.Copied, ResponsePipe.Append(Http11(), pipe.Writer, a));
        Assert.Equal(ResponsePipe.Appended.Copied, ResponsePipe.Append(Http11(), pipe.Writer, b));
        await pipe.Writer.FlushAsync();
        var read = await pipe.Reader.ReadAsync();
        Assert.Equal([.. a, .. b], read.Buffer.ToArray());
        Assert.False(Holds(read.Buffer, a));
    }

    [Fact]
    public async Task Over_HTTP2_a_chunk_is_copied()
    {
        var pipe = PipeOver(new LendingMemoryPool(new BlockPool()));
        var a = Random(Chunk, 6);
        Assert.Equal(ResponsePipe.Appended.Copied, ResponsePipe.Append(new DefaultHttpContext { Request = { Protocol = "HTTP/2" } }, pipe.Writer, a));
        await pipe.Writer.FlushAsync();
        var read = await pipe.Reader.ReadAsync();
        Assert.Equal(a, read.Buffer.ToArray());
        Assert.False(Holds(read.Buffer, a));
    }

    /// <summary>
    /// Kestrel hands a response whose connection is gone "fake memory" it rented once and keeps for the next writes
    /// (writes to it are dropped). When that memory is a chunk lent earlier, the next chunk must not be copied into it:
    /// that would rewrite a stored body other clients are served from.
    /// </summary>
    [Fact]
    public void A_lent_chunk_handed_out_again_is_never_written_into()
    {
        var pool = new LendingMemoryPool(new BlockPool());
        var writer = new FakeMemoryWriter(pool);
        byte[] a = Random(Chunk, 7), b = Random(Chunk, 8);
        var aBefore = a.ToArray();
        Assert.Equal(ResponsePipe.Appended.Lent, ResponsePipe.Append(Http11(), writer, a)); // rented from the pool: lent
        Assert.Same(a, Array(writer.GetMemory(10))); // what Kestrel would hand out next
        Assert.Equal(ResponsePipe.Appended.Gone, ResponsePipe.Append(Http11(), writer, b)); // the same memory again: refused, the caller aborts
        Assert.Equal(aBefore, a);
    }

    /// <summary>Kestrel's writer of a completed response: the first rent is kept and handed out for every later write.</summary>
    private sealed class FakeMemoryWriter(MemoryPool<byte> pool) : PipeWriter
    {
        private IMemoryOwner<byte>? _fake;
        public override Memory<byte> GetMemory(int sizeHint = 0) => (_fake ??= pool.Rent(sizeHint)).Memory;
        public override Span<byte> GetSpan(int sizeHint = 0) => GetMemory(sizeHint).Span;
        public override void Advance(int bytes) { }
        public override void CancelPendingFlush() { }
        public override void Complete(Exception? exception = null) { }
        public override ValueTask<FlushResult> FlushAsync(CancellationToken cancellationToken = default) => new(new FlushResult(false, true));
    }
}
