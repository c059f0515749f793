using System.Collections.Immutable;
using Akka.Configuration;
using Akka.Persistence;
using Akka.Persistence.Sql.Journal;

namespace BufferActors.Benchmarks;

/// <summary>The stock Akka.Persistence.Sql journal, its writes recorded in <see cref="JournalWriteLog"/>. Benches only.</summary>
public sealed class CountingSqlWriteJournal(Config journalConfig) : SqlWriteJournal(journalConfig)
{
    /// <inheritdoc />
    protected override Task<IImmutableList<Exception>> WriteMessagesAsync(IEnumerable<AtomicWrite> messages, CancellationToken cancellationToken) =>
        JournalWriteLog.Time(messages, list => base.WriteMessagesAsync(list, cancellationToken));
}
