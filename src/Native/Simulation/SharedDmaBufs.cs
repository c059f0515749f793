using BufferActors.Native.Linux;
using Microsoft.Win32.SafeHandles;

namespace BufferActors.Native.Simulation;

/// <summary>
/// Simulated dma-bufs handed to real processes as real descriptors, so that a client's code is the same on the
/// simulator and on the kernel: closing the descriptor (and every copy, and every mapping of it) is how the client
/// lets go. Each share is a memfd of the buffer's size and one reference on the simulated buffer. The memfd holds
/// no copy of the pages: a real gntdev dma-buf cannot be mmap'ed at all, so a client reads a buffer through a grant
/// map or a device, on the simulator as on the kernel (docs/simulator.md, deliberate differences); the memfd's inode is freed with its last reference, its inotify watch then reports
/// <see cref="Inotify.IN_IGNORED"/>, and the reference is dropped under the simulator's lock. A shared descriptor
/// handed back (an import) is recognised by its inode.
/// </summary>
/// <remarks>
/// Real descriptors live outside the seed: when a client closes one is not the simulator's choice. A simulation
/// that needs determinism does not share.
/// </remarks>
internal sealed class SharedDmaBufs : IDisposable
{
    private readonly XenSimulator _sim;
    private readonly Inotify _watcher = new();
    private readonly Dictionary<int, Share> _byWatch = [];
    private readonly Dictionary<(ulong Device, ulong Inode), Share> _byIdentity = [];
    private readonly Thread _reaper;
    private volatile bool _disposed;

    private sealed record Share(DmaBuf Buffer, int Watch, (ulong Device, ulong Inode) Identity);

    public SharedDmaBufs(XenSimulator sim)
    {
        _sim = sim;
        _reaper = new Thread(Reap) { IsBackground = true, Name = "simulator shared dma-bufs" };
        _reaper.Start();
    }

    /// <summary>Descriptors shared and still open somewhere.</summary>
    public int Count { get { using (_sim.Gate.Enter()) return _byWatch.Count; } }

    /// <summary>A new real descriptor holding one reference on <paramref name="buffer"/> (caller holds the gate).</summary>
    public SafeFileHandle ShareUnderGate(DmaBuf buffer)
    {
        int memfd = SharedMemory.CreateMemfd($"dma-buf-{buffer.Id}", Math.Max(buffer.SizeBytes, PageView.PageSize));
        try
        {
            var identity = LinuxFiles.Identity(memfd, out var errno);
            if (errno != Errno.None) throw new GntdevException("share", errno, $"cannot identify the shared descriptor of dma-buf {buffer.Id}");
            int watch = _watcher.Watch($"/proc/self/fd/{memfd}", Inotify.IN_DELETE_SELF);
            buffer.Get();
            var share = new Share(buffer, watch, identity);
            _byWatch[watch] = share;
            _byIdentity[identity] = share;
            return new SafeFileHandle(memfd, ownsHandle: true);
        }
        catch (NativeCallException e) when (e is not GntdevException)
        {
            LinuxFiles.Close(memfd);
            throw new GntdevException("share", e.Errno, $"cannot share dma-buf {buffer.Id}: {e.Detail}");
        }
    }

    /// <summary>The simulated buffer a real descriptor was shared for, or null (caller holds the gate).</summary>
    public DmaBuf? ResolveUnderGate(System.Runtime.InteropServices.SafeHandle descriptor)
    {
        bool added = false;
        try
        {
            descriptor.DangerousAddRef(ref added);
            var identity = LinuxFiles.Identity((int)descriptor.DangerousGetHandle(), out var errno);
            if (errno != Errno.None) throw new GntdevException("dma_buf_get", Errno.EBADF, "the descriptor is not open");
            return _byIdentity.TryGetValue(identity, out var share) && !share.Buffer.IsReleased ? share.Buffer : null;
        }
        finally
        {
            if (added) descriptor.DangerousRelease();
        }
    }

    private void Reap()
    {
        while (!_disposed)
        {
            if (!_watcher.Wait(TimeSpan.FromMilliseconds(200))) continue;
            List<(int Wd, uint Mask)> events;
            try
            {
                events = _watcher.Read();
            }
            catch (ObjectDisposedException)
            {
                return; // disposed while waiting
            }
            using (_sim.Gate.Enter())
            {
                foreach (var (wd, mask) in events)
                {
                    if ((mask & Inotify.IN_IGNORED) == 0 || !_byWatch.Remove(wd, out var share)) continue;
                    _byIdentity.Remove(share.Identity);
                    share.Buffer.Put(); // the last real reference is gone
                }
            }
        }
    }

    public void Dispose()
    {
        _disposed = true;
        _reaper.Join(TimeSpan.FromSeconds(2));
        _watcher.Dispose();
    }
}
