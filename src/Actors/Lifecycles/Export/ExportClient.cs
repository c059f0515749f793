using BufferActors.Actors.Lifecycles;

namespace BufferActors.Actors.Api;

/// <summary>The export lifecycle's part of the embedding API (DMABUF_EXP_FROM_REFS and what follows it).</summary>
public static class ExportClient
{
    /// <summary>Exports a frontend's refs as a dma-buf (DMABUF_EXP_FROM_REFS); the reply carries the fd to hand to the device.</summary>
    public static Task<ExportedBuffer.Exported> ExportAsync(this BufferActorsClient client, DomainId domain, IReadOnlyList<uint> refs,
        DmaBufFlags flags = DmaBufFlags.None, CancellationToken ct = default)
    {
        ArgumentNullException.ThrowIfNull(refs);
        return client.StartAsync<ExportedBuffer.Exported>(new ExportedBuffer.Export(domain, refs, flags), ct);
    }

    /// <summary>
    /// Exports a frontend's refs and hands the caller its own descriptor of the buffer (<see cref="ExportedBuffer.Exported.Shared"/>),
    /// for another process: a daemon's client, say. The caller owns it; the buffer is not released while it is open.
    /// </summary>
    public static Task<ExportedBuffer.Exported> ExportSharedAsync(this BufferActorsClient client, DomainId domain, IReadOnlyList<uint> refs,
        DmaBufFlags flags = DmaBufFlags.None, CancellationToken ct = default)
    {
        ArgumentNullException.ThrowIfNull(refs);
        return client.StartAsync<ExportedBuffer.Exported>(new ExportedBuffer.Export(domain, refs, flags) { ShareWithRequester = true }, ct);
    }

    /// <summary>Records that <paramref name="consumer"/> attached to the export and maps it in <paramref name="direction"/>.</summary>
    public static Task<ExportedBuffer.Attached> AttachAsync(this BufferActorsClient client, LifecycleId export, string consumer, DmaDirection direction, CancellationToken ct = default) =>
        client.SendAsync<ExportedBuffer.Attached>(new ExportedBuffer.Attach(export, consumer, direction), ct);

    /// <summary>Records that <paramref name="consumer"/> detached.</summary>
    public static Task<ExportedBuffer.Detached> DetachAsync(this BufferActorsClient client, LifecycleId export, string consumer, CancellationToken ct = default) =>
        client.SendAsync<ExportedBuffer.Detached>(new ExportedBuffer.Detach(export, consumer), ct);

    /// <summary>Asks for the export's release; it completes once every consumer detached.</summary>
    public static Task<ExportedBuffer.ReleaseAccepted> ReleaseAsync(this BufferActorsClient client, LifecycleId export, CancellationToken ct = default) =>
        client.SendAsync<ExportedBuffer.ReleaseAccepted>(new ExportedBuffer.Release(export), ct);

    /// <summary>Waits for the export's release: Released, TimedOut, or NotFound (= already released).</summary>
    public static Task<WaitReleasedResult> WaitReleasedAsync(this BufferActorsClient client, LifecycleId export, TimeSpan timeout, CancellationToken ct = default)
    {
        ArgumentNullException.ThrowIfNull(client);
        return client.SendAsync(new ExportedBuffer.WaitReleased(export, timeout), AnswerWithin(client.RequestTimeout, timeout), static (ExportedBuffer.WaitResult w) => w.Result, ct);
    }

    /// <summary>
    /// How long a wait's answer may take: its time-out plus the request time-out; no limit for a wait without a
    /// timer, nor for one whose sum is beyond <see cref="BufferActorsClient.LongestAnswerTimer"/>.
    /// </summary>
    private static TimeSpan AnswerWithin(TimeSpan requestTimeout, TimeSpan wait)
    {
        if (ExportedBuffer.WaitsForever(wait)) return Timeout.InfiniteTimeSpan;
        if (wait < TimeSpan.Zero) return requestTimeout; // refused at once
        if (requestTimeout == Timeout.InfiniteTimeSpan) return requestTimeout;
        var total = wait + requestTimeout; // no overflow: both are at most 2^32 ms
        return total > BufferActorsClient.LongestAnswerTimer ? Timeout.InfiniteTimeSpan : total;
    }
}
