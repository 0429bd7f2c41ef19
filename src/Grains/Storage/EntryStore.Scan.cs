using System.Buffers.Binary;
using FASTER.core;
using Microsoft.Extensions.Logging;

namespace CacheCluster.Grains.Storage;

public sealed partial class EntryStore
{
    /// <summary>True once <see cref="OpenAsync"/> has created or recovered the store and until it closes (readiness).</summary>
    public bool IsOpen => Volatile.Read(ref _state) == StateOpen;

    /// <summary>
    /// The key hashes of every header record in the log, for the management plane (purge by host, prefix or
    /// surrogate key; inspect). Old versions and deleted keys are included: read each with
    /// <see cref="ReadHeaderAsync"/> to see whether it still exists. Walks the whole log, so it costs a full
    /// read of the store's files: an operator's tool, never on the request path. Call it off the request threads.
    /// </summary>
    public IReadOnlyCollection<UInt128> ScanHeaderKeys(CancellationToken ct = default)
    {
        var keys = new HashSet<UInt128>();
        var store = _store;
        if (store is null || Volatile.Read(ref _state) != StateOpen || !IsHealthy) return keys;
        try
        {
            using var iterator = store.Log.Scan(store.Log.BeginAddress, store.Log.TailAddress);
            while (iterator.GetNext(out var info))
            {
                ct.ThrowIfCancellationRequested();
                if (info.Tombstone) continue;
                var key = iterator.GetKey().AsReadOnlySpan();
                // Header records have generation 0 and index 0 (chunk records have a positive generation).
                if (key.Length != RecordFormat.KeyBytes) continue;
                if (BinaryPrimitives.ReadInt64LittleEndian(key[16..]) != 0 || BinaryPrimitives.ReadInt32LittleEndian(key[24..]) != 0) continue;
                var low = BinaryPrimitives.ReadUInt64LittleEndian(key);
                var high = BinaryPrimitives.ReadUInt64LittleEndian(key[8..]);
                keys.Add(((UInt128)high << 64) | low);
            }
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            // Eviction or a store reset raced the scan: report what was found so far.
            _logger.LogWarning("Store scan stopped early after {Count} header(s): {Message}", keys.Count, ex.Message);
        }
        return keys;
    }
}
