using BufferActors.Actors.Lifecycles;
using BufferActors.Actors.Supervision;

namespace BufferActors.Actors.Api;

/// <summary>
/// The embedding API: what a backend host calls. Every method sends one request to the root manager
/// and completes with its answer; a refused request throws <see cref="BufferActorsException"/> with a
/// typed <see cref="ErrorCode"/> (and the errno for device errors), having changed nothing. A request
/// unanswered within the timeout throws <see cref="TimeoutException"/>; a cancelled one,
/// <see cref="OperationCanceledException"/>.
/// </summary>
public sealed class BufferActorsClient(IActorRef manager, TimeSpan? askTimeout = null)
{
    private readonly TimeSpan _timeout = askTimeout ?? TimeSpan.FromSeconds(30);

    /// <summary>The root manager actor.</summary>
    public IActorRef Manager { get; } = manager;

    /// <summary>Exports a frontend's refs as a dma-buf (DMABUF_EXP_FROM_REFS); the reply carries the fd to hand to the device.</summary>
    public Task<ExportedBuffer.Exported> ExportAsync(DomainId domain, IReadOnlyList<uint> refs, DmaBufFlags flags = DmaBufFlags.None, CancellationToken ct = default) =>
        Ask<ExportedBuffer.Exported>(new ExportedBuffer.Export(domain, refs, flags), ct);

    /// <summary>Records that <paramref name="consumer"/> attached to the export and maps it in <paramref name="direction"/>.</summary>
    public Task<ExportedBuffer.Attached> AttachAsync(LifecycleId export, string consumer, DmaDirection direction, CancellationToken ct = default) =>
        Ask<ExportedBuffer.Attached>(new ExportedBuffer.Attach(export, consumer, direction), ct);

    /// <summary>Records that <paramref name="consumer"/> detached.</summary>
    public Task<ExportedBuffer.Detached> DetachAsync(LifecycleId export, string consumer, CancellationToken ct = default) =>
        Ask<ExportedBuffer.Detached>(new ExportedBuffer.Detach(export, consumer), ct);

    /// <summary>Asks for the export's release; it completes once every consumer detached.</summary>
    public Task<ExportedBuffer.ReleaseAccepted> ReleaseAsync(LifecycleId export, CancellationToken ct = default) =>
        Ask<ExportedBuffer.ReleaseAccepted>(new ExportedBuffer.Release(export), ct);

    /// <summary>Waits for the export's release: Released, TimedOut, or NotFound (= already released).</summary>
    public async Task<WaitReleasedResult> WaitReleasedAsync(LifecycleId export, TimeSpan timeout, CancellationToken ct = default) =>
        (await Ask<ExportedBuffer.WaitResult>(new ExportedBuffer.WaitReleased(export, timeout), ct, timeout + _timeout)).Result;

    /// <summary>Imports the dma-buf <paramref name="fd"/> and grants its pages to <paramref name="domain"/> (DMABUF_IMP_TO_REFS).</summary>
    public Task<ImportAttachment.Imported> ImportAsync(DomainId domain, int fd, int pageCount, CancellationToken ct = default) =>
        Ask<ImportAttachment.Imported>(new ImportAttachment.Import(domain, fd, pageCount), ct);

    /// <summary>Releases an import (DMABUF_IMP_RELEASE); refs still mapped by the frontend are deferred by the kernel, not dropped.</summary>
    public Task<ImportAttachment.Released> ReleaseImportAsync(LifecycleId import, CancellationToken ct = default) =>
        Ask<ImportAttachment.Released>(new ImportAttachment.Release(import), ct);

    /// <summary>Maps a frontend's refs for CPU access.</summary>
    public Task<GrantMap.Mapped> MapAsync(DomainId domain, IReadOnlyList<uint> refs, bool readOnly = false, CancellationToken ct = default) =>
        Ask<GrantMap.Mapped>(new GrantMap.Map(domain, refs, readOnly), ct);

    /// <summary>Unmaps a map.</summary>
    public Task<GrantMap.Unmapped> UnmapAsync(LifecycleId map, CancellationToken ct = default) =>
        Ask<GrantMap.Unmapped>(new GrantMap.Unmap(map), ct);

    /// <summary>Tells BufferActors a frontend domain died: everything it owns is ended in dependency order.</summary>
    public Task<DomainLifecycles.DomainCleanupStarted> DomainDiedAsync(DomainId domain, CancellationToken ct = default) =>
        Ask<DomainLifecycles.DomainCleanupStarted>(new DomainLifecycles.DomainDied(domain), ct);

    /// <summary>One lifecycle's status.</summary>
    public Task<LifecycleStatus> StatusAsync(LifecycleId id, CancellationToken ct = default) =>
        Ask<LifecycleStatus>(new LifecycleStatus.Get(id), ct);

    /// <summary>What the start-up recovery found on the journal: adopted, reclaimed, and the frontends to tell (empty without a journal).</summary>
    public Task<BufferManager.RecoveryReport> RecoveryReportAsync(CancellationToken ct = default) =>
        Ask<BufferManager.RecoveryReport>(new BufferManager.GetRecoveryReport(), ct);

    /// <summary>Every domain's lifecycles and quota use.</summary>
    public Task<BufferManager.Status> SnapshotAsync(CancellationToken ct = default) =>
        Ask<BufferManager.Status>(new BufferManager.GetStatus(), ct);

    private async Task<T> Ask<T>(object message, CancellationToken ct, TimeSpan? timeout = null)
    {
        var limit = timeout ?? _timeout;
        var promise = new ReplyPromise(((IInternalActorRef)Manager).Provider);
        Manager.Tell(message, promise);
        object reply;
        try
        {
            // Already complete when the actors ran the step on this thread (the inline dispatcher): no timer then.
            reply = await promise.Reply.WaitAsync(limit, ct).ConfigureAwait(false);
        }
        catch (TimeoutException)
        {
            throw new TimeoutException($"{message.GetType().Name}: no answer within {limit}");
        }
        return reply switch
        {
            T ok => ok,
            OperationFailed failed => throw new BufferActorsException(failed),
            _ => throw new InvalidOperationException($"unexpected reply {reply.GetType().Name} to {message.GetType().Name}"),
        };
    }
}
