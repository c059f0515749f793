namespace BufferActors.Actors.Persistence.Replay;

/// <summary>
/// The journal cannot be read at all: the file is missing, empty, not a SQLite database, truncated or corrupt,
/// holds no journal table, or the database cannot be reached. The message says which, for people.
/// </summary>
public sealed class JournalUnreadableException : Exception
{
    /// <summary>Creates the exception.</summary>
    public JournalUnreadableException(string message) : base(message) { }

    /// <summary>Creates the exception with the error that caused it.</summary>
    public JournalUnreadableException(string message, Exception inner) : base(message, inner) { }
}
