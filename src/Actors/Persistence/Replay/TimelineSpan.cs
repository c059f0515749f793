namespace BufferActors.Actors.Persistence.Replay;

/// <summary>An interval of one lifecycle's timeline.</summary>
/// <param name="Kind">What the lifecycle held or did during it.</param>
/// <param name="Label">Detail for people: the consumer and direction of an attachment, the fd of an export, etc.</param>
/// <param name="From">When it began.</param>
/// <param name="To">When it ended; null while it was still open at the end of the journal.</param>
public sealed record TimelineSpan(SpanKind Kind, string? Label, DateTimeOffset From, DateTimeOffset? To)
{
    /// <summary>True when the journal ends before the span does.</summary>
    public bool IsOpen => To is null;
}
