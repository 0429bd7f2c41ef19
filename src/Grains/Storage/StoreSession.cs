using System.Buffers.Binary;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using FASTER.core;

namespace CacheCluster.Grains.Storage;

/// <summary>
/// One pooled FASTER session plus pinned scratch buffers for its key and value. A session is used by one
/// operation at a time (rented from the pool and returned when the operation, including any pending I/O, is
/// over), so the buffers stay valid across the awaits of that operation without pinning anything on the stack.
/// </summary>
internal sealed unsafe class StoreSession : IDisposable
{
    public readonly ClientSession<SpanByte, SpanByte, SpanByte, ReadOutput, Empty, StoreFunctions> Session;

    /// <summary>Key of the current operation (points into the pinned key buffer).</summary>
    public SpanByte Key;

    /// <summary>FASTER input: empty for reads and upserts; the floor-moving RMW's (generation, floor).</summary>
    public SpanByte Input;

    /// <summary>Checksum + payload of the current upsert (points into the pinned value buffer).</summary>
    public SpanByte Value;

    private readonly byte[] _keyBuffer;
    private readonly byte* _keyPointer;
    private byte[]? _valueBuffer;
    private byte* _valuePointer;

    public StoreSession(ClientSession<SpanByte, SpanByte, SpanByte, ReadOutput, Empty, StoreFunctions> session)
    {
        Session = session;
        // Key (28 bytes) and, behind it, the RMW input (16 bytes).
        _keyBuffer = GC.AllocateUninitializedArray<byte>(48, pinned: true);
        _keyPointer = (byte*)Unsafe.AsPointer(ref MemoryMarshal.GetArrayDataReference(_keyBuffer));
    }

    public void SetKey(UInt128 keyHash, long generation, int index)
    {
        RecordFormat.WriteKey(new Span<byte>(_keyPointer, RecordFormat.KeyBytes), keyHash, generation, index);
        Key = SpanByte.FromPointer(_keyPointer, RecordFormat.KeyBytes);
    }

    /// <summary>Sets the floor-moving RMW's input: the generation the header must still have, and the new floor.</summary>
    public void SetMoveInput(long generation, long floor)
    {
        var input = new Span<byte>(_keyPointer + 32, 16);
        BinaryPrimitives.WriteInt64LittleEndian(input, generation);
        BinaryPrimitives.WriteInt64LittleEndian(input[8..], floor);
        Input = SpanByte.FromPointer(_keyPointer + 32, 16);
    }

    /// <summary>Back to the empty input reads and upserts use.</summary>
    public void ClearInput() => Input = default;

    /// <summary>Copies <paramref name="payload"/> behind its checksum into the value buffer.</summary>
    public void SetValue(ReadOnlySpan<byte> payload)
    {
        if (_valuePointer == null)
        {
            _valueBuffer = GC.AllocateUninitializedArray<byte>(RecordFormat.ChecksumBytes + EntryStore.MaxChunkBytes, pinned: true);
            _valuePointer = (byte*)Unsafe.AsPointer(ref MemoryMarshal.GetArrayDataReference(_valueBuffer));
        }

        int length = RecordFormat.ChecksumBytes + payload.Length;
        var value = new Span<byte>(_valuePointer, length);
        payload.CopyTo(value[RecordFormat.ChecksumBytes..]);
        var key = new ReadOnlySpan<byte>(_keyPointer, RecordFormat.KeyBytes);
        BinaryPrimitives.WriteUInt64LittleEndian(value, RecordFormat.Checksum(key, value[RecordFormat.ChecksumBytes..]));
        Value = SpanByte.FromPointer(_valuePointer, length);
    }

    public void Dispose() => Session.Dispose();
}
