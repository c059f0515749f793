using System.Diagnostics;
using BufferActors.Native;

namespace BufferActors.Conformance.Cases;

/// <summary>DMABUF_EXP_WAIT_RELEASED: held, closed, released, time-outs, several waiters, other instances.</summary>
internal static class WaitCases
{
    public static IEnumerable<ConformanceCase> All =>
    [
        new("wait-while-held-times-out", "a wait on a buffer that stays open ends ETIMEDOUT after its time-out", c =>
        {
            var (dev, export) = Export(c, 1);
            c.Observe("wait 100 ms", () => dev.WaitReleased(export.Fd, 100));
            c.Try("close", () => dev.CloseFd(export.Fd));
        }),
        new("wait-zero-is-a-poll", "a time-out of 0 polls: ETIMEDOUT while open, ENOENT once released", c =>
        {
            var (dev, export) = Export(c, 1);
            c.Observe("poll while open", () => dev.WaitReleased(export.Fd, 0));
            c.Try("close", () => dev.CloseFd(export.Fd));
            c.Observe("poll after close", () => dev.WaitReleased(export.Fd, 0));
        }),
        new("wait-after-close-is-not-found", "after the last close the buffer is gone: ENOENT at once, never 0", c =>
        {
            var (dev, export) = Export(c, 2);
            c.Try("close", () => dev.CloseFd(export.Fd));
            c.Observe("wait 5000 ms", () => dev.WaitReleased(export.Fd, 5000));
        }),
        new("wait-released-by-another-thread", "a wait returns 0 as soon as another thread closes the buffer", c =>
        {
            var (dev, export) = Export(c, 1);
            var waiter = StartWaiter(dev, export.Fd, 20000);
            c.Target.WaitUntilBlocked(dev, 1);
            c.Try("close", () => dev.CloseFd(export.Fd));
            var (result, ms) = waiter.Result;
            c.See("waiter", result);
            c.See("waiter woke before its time-out", ms < 15000);
        }),
        new("wait-long-time-out", "a time-out of 0xFFFFFFFF ms waits until the release", c =>
        {
            var (dev, export) = Export(c, 1);
            var waiter = StartWaiter(dev, export.Fd, uint.MaxValue);
            c.Target.WaitUntilBlocked(dev, 1);
            c.Try("close", () => dev.CloseFd(export.Fd));
            c.See("waiter", waiter.Result.Result);
        }),
        new("wait-several-waiters", "two waiters on one buffer: the release wakes one; the other waits out its time-out", c =>
        {
            var (dev, export) = Export(c, 1);
            var first = StartWaiter(dev, export.Fd, 4000);
            c.Target.WaitUntilBlocked(dev, 1);
            var second = StartWaiter(dev, export.Fd, 4000);
            c.Target.WaitUntilBlocked(dev, 2);
            c.Try("close", () => dev.CloseFd(export.Fd));
            c.See("older waiter", first.Result.Result);
            c.See("newer waiter", second.Result.Result);
        }),
        new("wait-unknown-fd", "a number that is no export of this instance is ENOENT, even a dma-buf's", c =>
        {
            var dev = c.Gntdev();
            var buffer = c.HostBuffer(1, pattern: 20);
            c.Observe("wait on a never-used number", () => dev.WaitReleased(900, 0));
            c.Observe("wait on a udmabuf's fd", () => dev.WaitReleased(buffer.Fd, 0));
        }),
        new("wait-other-instance", "an export is found only by the gntdev instance that made it", c =>
        {
            var (dev, export) = Export(c, 1);
            var other = c.Gntdev();
            c.Observe("wait on the other instance", () => other.WaitReleased(export.Fd, 0));
            c.Observe("wait on the exporting instance", () => dev.WaitReleased(export.Fd, 0));
            c.Try("close", () => dev.CloseFd(export.Fd));
        }),
        new("wait-held-by-an-import", "an import holds the export after its fd is closed: still found, released with the import", c =>
        {
            var (dev, export) = Export(c, 2);
            var import = c.Try("import the export", () => dev.ImportDmaBuf(export.Fd, 2, c.Target.Self));
            c.Try("close the export's fd", () => dev.CloseFd(export.Fd));
            c.Observe("poll after close", () => dev.WaitReleased(export.Fd, 0));
            if (import is not null) c.Try("release the import", () => dev.ReleaseImport(export.Fd));
            c.Observe("poll after the import's release", () => dev.WaitReleased(export.Fd, 0));
        }),
    ];

    internal static (IGrantDevice Device, ExportedDmaBuf Export) Export(CaseContext c, int pages)
    {
        var dev = c.Gntdev();
        var grant = c.Grant(c.Allocator(), pages, pattern: 21);
        return (dev, dev.ExportDmaBuf(DmaBufFlags.None, c.Target.Self, [.. grant.Refs]));
    }

    private static Task<(string Result, long Ms)> StartWaiter(IGrantDevice dev, int fd, uint timeoutMs) =>
        Task.Factory.StartNew(() =>
        {
            var clock = Stopwatch.StartNew();
            try
            {
                return (dev.WaitReleased(fd, timeoutMs).ToString(), clock.ElapsedMilliseconds);
            }
            catch (GntdevException e)
            {
                return (e.Errno.ToString(), clock.ElapsedMilliseconds);
            }
        }, TaskCreationOptions.LongRunning);
}
