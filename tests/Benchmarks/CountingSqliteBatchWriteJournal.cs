using System.Collections.Immutable;
using Akka.Configuration;
using Akka.Persistence;
using BufferActors.Actors.Persistence;

namespace BufferActors.Benchmarks;

/// <summary>The production SQLite journal (<see cref="SqliteBatchWriteJournal"/>), its writes recorded in <see cref="JournalWriteLog"/>. Benches only.</summary>
public sealed class CountingSqliteBatchWriteJournal(Config journalConfig) : SqliteBatchWriteJournal(journalConfig)
{
    /// <inheritdoc />
    protected override Task<IImmutableList<Exception>> WriteMessagesAsync(IEnumerable<AtomicWrite> messages, CancellationToken cancellationToken) =>
        JournalWriteLog.Time(messages, list => base.WriteMessagesAsync(list, cancellationToken));
}
