namespace BufferActors.Actors.Persistence;

/// <summary>
/// The journal cannot be created or written where it was configured: its folder cannot be made, the file is
/// read-only, immutable or not a SQLite database, the disk is full. Thrown before the host starts anything
/// (no device opened, no actor started), so a host never runs half-way without its journal.
/// </summary>
/// <param name="location">The journal's path (or, for PostgreSQL, its connection target).</param>
/// <param name="reason">Why it cannot be used, in words an operator can act on.</param>
/// <param name="inner">The error behind it.</param>
public sealed class JournalUnavailableException(string location, string reason, Exception? inner = null)
    : Exception($"the journal {location} cannot be used: {reason}", inner)
{
    /// <summary>The journal's path (or, for PostgreSQL, its connection target).</summary>
    public string Location { get; } = location;

    /// <summary>Why it cannot be used.</summary>
    public string Reason { get; } = reason;
}
