namespace BufferActors.Actors.Lifecycles;

/// <summary>Messages and props of <see cref="ImportAttachmentActor"/>.</summary>
public static class ImportAttachment
{
    /// <summary>Start: import the dma-buf <paramref name="Fd"/> (of this host's process) and grant its <paramref name="PageCount"/> pages to <paramref name="Domain"/>.</summary>
    public sealed record Import(DomainId Domain, int Fd, int PageCount) : ILifecycleRequest;

    /// <summary>The pages are granted: hand <paramref name="Refs"/> to the frontend.</summary>
    public sealed record Imported(LifecycleId Id, int Fd, IReadOnlyList<uint> Refs);

    /// <summary>End the grants and let go of the buffer.</summary>
    public sealed record Release(LifecycleId Id) : ILifecycleCommand;

    /// <summary>
    /// Released. <paramref name="Deferred"/> refs the frontend still mapped were handed to the kernel's deferred
    /// end-access (retried, never dropped); <see cref="Supervision.BufferManager.AccessEnded"/> tells when they ended.
    /// </summary>
    public sealed record Released(LifecycleId Id, int Deferred = 0);

    /// <summary>Props for the actor of import lifecycle <paramref name="id"/>; the import comes with <see cref="StartLifecycle"/>.</summary>
    public static Props Props(LifecycleId id, LifecycleServices services) =>
        LifecycleProps.Of((id, services), static a => new ImportAttachmentActor(a.id, a.services));

    /// <summary>Props that adopt an import still live on this device instance after a restart.</summary>
    public static Props Adopt(LifecycleServices services, Persistence.LifecycleRecord record)
    {
        var id = record.Id;
        return LifecycleProps.Of((id, services, record), static a => new ImportAttachmentActor(a.id, a.services, a.record));
    }
}
