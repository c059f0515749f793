using System.Diagnostics.Tracing;

namespace BufferActors.Benchmarks;

/// <summary>
/// The longest stop-the-world GC pause while it listens: from the runtime's own GC events, each pause running from
/// <c>GCSuspendEEBegin</c> (threads being suspended) to <c>GCRestartEEEnd</c> (threads running again).
/// </summary>
internal sealed class GcPauses : EventListener
{
    private const int SuspendBegin = 9;   // GCSuspendEEBegin_V1
    private const int RestartEnd = 3;     // GCRestartEEEnd_V1
    private const EventKeywords GcKeyword = (EventKeywords)0x1;
    private readonly Lock _lock = new();
    private DateTime? _suspendedAt;
    private TimeSpan _longest;
    private int _pauses;

    /// <summary>The longest pause seen so far.</summary>
    public TimeSpan Longest { get { lock (_lock) return _longest; } }

    /// <summary>Pauses seen so far.</summary>
    public int Count { get { lock (_lock) return _pauses; } }

    /// <summary>Forgets what was seen (events of pauses before this may still arrive: they are dispatched late).</summary>
    public void Reset()
    {
        lock (_lock) (_longest, _pauses, _suspendedAt) = (TimeSpan.Zero, 0, null);
    }

    protected override void OnEventSourceCreated(EventSource source)
    {
        if (source.Name == "Microsoft-Windows-DotNETRuntime") EnableEvents(source, EventLevel.Informational, GcKeyword);
    }

    protected override void OnEventWritten(EventWrittenEventArgs e)
    {
        lock (_lock)
        {
            if (e.EventId == SuspendBegin) _suspendedAt = e.TimeStamp;
            else if (e.EventId == RestartEnd && _suspendedAt is { } at)
            {
                var pause = e.TimeStamp - at;
                if (pause > _longest) _longest = pause;
                _pauses++;
                _suspendedAt = null;
            }
        }
    }
}
