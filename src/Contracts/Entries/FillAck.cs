namespace CacheCluster.Contracts.Entries;

/// <summary>
/// The owner's answer to a leader's step (publish, append, commit, refresh, commit Vary). A leader whose fill
/// ended meanwhile (aborted, presumed stalled, replaced) gets <see cref="NotCurrent"/> — an ordinary answer, not
/// an error: it stops storing and keeps serving its own client.
/// </summary>
public enum FillAck
{
    /// <summary>Done: the chunk is stored, the outcome published, the entry committed.</summary>
    Accepted,
    /// <summary>The fill id is not the owner's running fill any more; nothing was changed.</summary>
    NotCurrent,
    /// <summary>The fill was current but the step cannot be done (bytes missing, the stored body changed under a
    /// refresh, not a Vary marker); the owner ended the fill where it had to.</summary>
    Refused,
}
