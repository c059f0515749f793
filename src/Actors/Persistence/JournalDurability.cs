namespace BufferActors.Actors.Persistence;

/// <summary>
/// What an acknowledged journal write of a SQLite journal survives (docs/journal.md, "Durability"). Either way,
/// lifecycles write in groups: the events of every lifecycle that asked meanwhile share one commit.
/// </summary>
public enum JournalDurability
{
    /// <summary>
    /// The host process's crash (SIGKILL, an unhandled exception): the commit is in SQLite's WAL, in the kernel's page
    /// cache, before it is acknowledged (<c>synchronous = NORMAL</c>); the WAL is synced at checkpoints. A power
    /// loss may lose the last commits — and with them nothing to reconcile: it ends every domain and kernel object
    /// the journal described. The default.
    /// </summary>
    Process,

    /// <summary>
    /// A power loss as well: every commit is synced to the disk before it is acknowledged (<c>synchronous = FULL</c>),
    /// one fsync per group commit. For a journal kept for audit beyond the host's own lifetime.
    /// </summary>
    Power,
}
