using BufferActors.Actors.Lifecycles;

namespace BufferActors.Actors.Api;

/// <summary>The import lifecycle's part of the embedding API (DMABUF_IMP_TO_REFS, DMABUF_IMP_RELEASE).</summary>
public static class ImportClient
{
    /// <summary>Imports the dma-buf <paramref name="fd"/> and grants its pages to <paramref name="domain"/> (DMABUF_IMP_TO_REFS).</summary>
    public static Task<ImportAttachment.Imported> ImportAsync(this BufferActorsClient client, DomainId domain, int fd, int pageCount, CancellationToken ct = default) =>
        client.StartAsync<ImportAttachment.Imported>(new ImportAttachment.Import(domain, fd, pageCount), ct);

    /// <summary>Releases an import (DMABUF_IMP_RELEASE); refs still mapped by the frontend are deferred by the kernel, not dropped.</summary>
    public static Task<ImportAttachment.Released> ReleaseImportAsync(this BufferActorsClient client, LifecycleId import, CancellationToken ct = default) =>
        client.SendAsync<ImportAttachment.Released>(new ImportAttachment.Release(import), ct);
}
