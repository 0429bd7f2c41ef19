using System.Numerics;
using System.Runtime.CompilerServices;

namespace CacheCluster.Grains.Protocol.HotCopies;

/// <summary>
/// How often each key was requested here lately, approximately (TinyLFU's count-min sketch): four small counters
/// per key in one byte table, the key's estimate is the least of them. Every <c>period</c> increments all counters
/// are halved, so yesterday's favourites fade. Lossy by design: concurrent increments may lose one, which only
/// blurs an estimate.
/// </summary>
public sealed class FrequencySketch
{
    private const byte MaxCount = 15;
    private readonly byte[] _table;
    private readonly int _mask;
    private readonly int _period;
    private int _increments;

    /// <param name="expectedKeys">About how many distinct keys matter at once; sizes the table (16 counters each).</param>
    public FrequencySketch(int expectedKeys)
    {
        int size = (int)BitOperations.RoundUpToPowerOf2((uint)Math.Clamp(expectedKeys, 64, 1 << 22) * 16);
        _table = new byte[size];
        _mask = size - 1;
        _period = Math.Clamp(expectedKeys, 64, 1 << 22) * 10;
    }

    public int Estimate(string key) => Min(Hash(key));

    /// <summary>Counts one request for the key and returns its new estimate.</summary>
    public int Increment(string key)
    {
        uint h = Hash(key);
        int min = Min(h);
        if (min < MaxCount)
        {
            // Conservative update: only the counters at the minimum grow, which keeps collisions from inflating others.
            for (int i = 0; i < 4; i++)
            {
                ref byte c = ref _table[Index(h, i)];
                if (c == min) c = (byte)(min + 1);
            }
            min++;
        }
        if (Interlocked.Increment(ref _increments) == _period) Age();
        return min;
    }

    private int Min(uint h)
    {
        int min = MaxCount;
        for (int i = 0; i < 4; i++) min = Math.Min(min, _table[Index(h, i)]);
        return min;
    }

    private void Age()
    {
        for (int i = 0; i < _table.Length; i++) _table[i] >>= 1;
        Volatile.Write(ref _increments, 0);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static uint Hash(string key)
    {
        uint h = (uint)key.GetHashCode();
        return h * 0x9E3779B1u ^ h >> 15;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private int Index(uint h, int i)
    {
        // Four probes from one hash: each multiplies by its own odd constant and rotates.
        uint x = h * (0x85EBCA6Bu + (uint)i * 0x27D4EB2Eu) + (uint)i * 0x165667B1u;
        return (int)(BitOperations.RotateLeft(x, 7 * i + 5) & (uint)_mask);
    }
}
