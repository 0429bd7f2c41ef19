using System.Buffers;
using System.Runtime.InteropServices;
using Microsoft.AspNetCore.Connections;

namespace CacheCluster.Node.Proxy.Responses;

/// <summary>
/// Kestrel's connection memory pool, wrapped so that a stored chunk can be sent without being copied. Stored chunks
/// are immutable arrays (a hot copy's, or the ones an owner read returned); <see cref="ResponsePipe.Append"/> offers
/// one to this pool just before asking the response pipe for space of the chunk's size, and when the pipe rents that
/// space from here it gets the chunk itself, already filled: the pipe's segment then refers to the chunk, the socket
/// sends from it, and giving the segment back releases nothing. Everything else is the wrapped pool's (Kestrel's 4 KiB
/// blocks) or, for larger requests, the shared array pool, as the pipe itself would have done.
/// </summary>
/// <remarks>
/// A lent chunk must never be written into. The pipe writes nothing into memory by itself; the one place that hands
/// rented memory out again is Kestrel's "fake memory" of a response whose connection is gone (writes to it are
/// dropped), which keeps what it rented for the next writes of that response. That is why only
/// <see cref="ResponsePipe.Append"/> offers chunks, only for HTTP/1.x content-length bodies, and why it checks what
/// the pipe gave back: its own chunk (sent as is), fresh memory (copied into), or another lent chunk (nothing written,
/// the caller aborts the connection, which was gone anyway).
/// </remarks>
public sealed class LendingMemoryPool(MemoryPool<byte> inner) : MemoryPool<byte>
{
    [ThreadStatic] private static byte[]? t_offered;

    /// <summary>The largest chunk lent (the store's chunk size); requests up to it come here instead of the array pool.</summary>
    public const int LargestLent = RangeResponder.StoreChunkBytes;

    /// <summary>Chunks smaller than the pipe's minimum segment (Kestrel's block) are copied: the pipe rents a whole block for them.</summary>
    public const int SmallestLent = 4096;

    public override int MaxBufferSize => LargestLent;

    public override IMemoryOwner<byte> Rent(int minBufferSize = -1)
    {
        if (t_offered is { } chunk && chunk.Length == minBufferSize)
        {
            t_offered = null;
            return new LentChunk(chunk);
        }
        return minBufferSize <= inner.MaxBufferSize ? inner.Rent(minBufferSize) : Shared.Rent(minBufferSize);
    }

    protected override void Dispose(bool disposing)
    {
        if (disposing) inner.Dispose();
    }

    /// <summary>Offers a chunk to the next rent of its exact size on this thread (<see cref="Withdraw"/> right after).</summary>
    internal static void Offer(byte[] chunk) => t_offered = chunk;

    internal static void Withdraw() => t_offered = null;

    /// <summary>What memory the pipe handed out is: the given chunk lent, another lent chunk, or memory of its own.</summary>
    internal static Lending Classify(Memory<byte> memory, byte[] chunk) =>
        MemoryMarshal.TryGetMemoryManager<byte, LentChunk>(memory, out var lent)
            ? ReferenceEquals(lent.Chunk, chunk) && memory.Length == chunk.Length ? Lending.ThisChunk : Lending.OtherChunk
            : Lending.NotLent;

    internal enum Lending { NotLent, ThisChunk, OtherChunk }

    /// <summary>
    /// Replaces Kestrel's memory pool factory (registered by the Kestrel host builder) with one whose pools lend
    /// chunks; every connection's pipes (plain, TLS, HTTP/2) then rent from such a pool. Without Kestrel's factory
    /// registered (a host that does not use it) nothing changes and chunks are copied.
    /// </summary>
    public static void Install(IServiceCollection services)
    {
        var kestrels = services.LastOrDefault(d => d.ServiceType == typeof(IMemoryPoolFactory<byte>) && !d.IsKeyedService);
        if (kestrels is null) return;
        services.Remove(kestrels);
        services.AddSingleton<IMemoryPoolFactory<byte>>(sp => new Factory(kestrels switch
        {
            { ImplementationInstance: IMemoryPoolFactory<byte> instance } => instance,
            { ImplementationFactory: { } create } => (IMemoryPoolFactory<byte>)create(sp),
            { ImplementationType: { } type } => (IMemoryPoolFactory<byte>)ActivatorUtilities.CreateInstance(sp, type),
            _ => throw new InvalidOperationException("Kestrel's memory pool factory has no implementation"),
        }));
    }

    private sealed class Factory(IMemoryPoolFactory<byte> kestrels) : IMemoryPoolFactory<byte>
    {
        public MemoryPool<byte> Create(MemoryPoolOptions? options = null) => new LendingMemoryPool(kestrels.Create(options));
    }

    /// <summary>A stored chunk as pipe memory: read by the socket, never written, nothing to give back.</summary>
    private sealed class LentChunk(byte[] chunk) : MemoryManager<byte>
    {
        public byte[] Chunk => chunk;

        public override Span<byte> GetSpan() => chunk;

        public override MemoryHandle Pin(int elementIndex = 0) => chunk.AsMemory(elementIndex).Pin();

        public override void Unpin() { }

        protected override bool TryGetArray(out ArraySegment<byte> segment)
        {
            segment = new ArraySegment<byte>(chunk);
            return true;
        }

        protected override void Dispose(bool disposing) { }
    }
}
