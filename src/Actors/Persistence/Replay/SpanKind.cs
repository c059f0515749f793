namespace BufferActors.Actors.Persistence.Replay;

/// <summary>What a <see cref="TimelineSpan"/> shows a lifecycle holding or doing.</summary>
public enum SpanKind
{
    /// <summary>An export's dma-buf exists: from <see cref="Persistence.Exported"/> to its terminal event.</summary>
    Exported,
    /// <summary>A grant map is mapped: from <see cref="Persistence.Mapped"/> to its terminal event.</summary>
    Mapped,
    /// <summary>An import's pages are granted to the frontend: from <see cref="Persistence.Granted"/> to its terminal event.</summary>
    Granted,
    /// <summary>One consumer is attached to an export: from <see cref="Persistence.Attached"/> to its <see cref="Persistence.Detached"/> (or the terminal event).</summary>
    Attached,
    /// <summary>A release was asked for and has not completed: from <see cref="ReleaseRequested"/> to the terminal event.</summary>
    Releasing,
    /// <summary>An import is released but the frontend still maps some of its refs: from <see cref="Persistence.AccessDeferred"/> to <see cref="Persistence.AccessEnded"/>.</summary>
    Deferred,
}
