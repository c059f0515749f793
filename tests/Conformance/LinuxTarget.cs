using System.Globalization;
using BufferActors.Native;
using BufferActors.Native.Linux;

namespace BufferActors.Conformance;

/// <summary>The real devices of the Linux kernel this process runs on (the lane's dom0).</summary>
public sealed class LinuxTarget : ConformanceTarget
{
    private const string GntdevLimitPath = "/sys/module/xen_gntdev/parameters/limit";
    private const string GntallocModulePath = "/lib/modules/xen-gntalloc.ko"; // where the lane's initramfs puts it
    private const string BalloonCurrentKb = "/sys/devices/system/xen_memory/xen_memory0/info/current_kb";

    /// <inheritdoc />
    public override string Name => "kernel";

    /// <inheritdoc />
    public override IGrantDevice OpenGntdev() => LinuxGrantDevice.Open();

    /// <inheritdoc />
    public override IGrantAllocator OpenAllocator() => LinuxGrantAllocator.Open();

    /// <inheritdoc />
    public override int AllocatorLimit
    {
        get => ReadInt(LinuxGrantAllocator.LimitPath);
        set => LinuxGrantAllocator.SetLimit(value);
    }

    /// <inheritdoc />
    public override int GntdevPageLimit
    {
        get => ReadInt(GntdevLimitPath);
        set => File.WriteAllText(GntdevLimitPath, value.ToString(CultureInfo.InvariantCulture));
    }

    /// <inheritdoc />
    public override HostBuffer CreateHostBuffer(int pages) => new Udmabuf(LinuxUdmabuf.Create(pages));

    /// <inheritdoc />
    public override int OpenPlainFile()
    {
        int fd = LinuxProcessCalls.MemfdCreate();
        return fd;
    }

    /// <inheritdoc />
    public override void Close(int fd) => LinuxProcessCalls.Close(fd);

    /// <inheritdoc />
    public override int Dup(int fd) => LinuxProcessCalls.Dup(fd);

    /// <inheritdoc />
    public override unsafe void MakeWritable(GrantMapping mapping)
    {
        fixed (byte* start = mapping.Pages.Read(0)) // only the address: mprotect answers whether it may become writable
            LinuxProcessCalls.Mprotect((nint)start, (nuint)mapping.PageCount * PageView.PageSize, 0x1 | 0x2 /* PROT_READ | PROT_WRITE */);
    }

    /// <inheritdoc />
    public override void DupTo(int fd, int number) => LinuxProcessCalls.Dup3(fd, number);

    /// <inheritdoc />
    public override void ReloadGrantAllocator()
    {
        LinuxProcessCalls.DeleteModule("xen_gntalloc");
        LinuxProcessCalls.LoadModule(GntallocModulePath);
    }

    /// <inheritdoc />
    public override long SizeOf(int fd) => LinuxProcessCalls.SizeOf(fd);

    /// <inheritdoc />
    public override int OpenFdCount()
    {
        // Only descriptors of the objects a case makes count: the runtime opens its own (eventfds, epoll,
        // pipes) lazily, which would read as leaks.
        int count = 0;
        foreach (string entry in Directory.GetFileSystemEntries("/proc/self/fd"))
        {
            string? target;
            try { target = new FileInfo(entry).LinkTarget; }
            catch (IOException) { continue; } // closed while listing
            if (target is not null && IsGrantPathObject(target)) count++;
        }
        return count;
    }

    private static bool IsGrantPathObject(string link) =>
        link.StartsWith("/dev/xen/", StringComparison.Ordinal) || link == "/dev/udmabuf" || link == "/dev/null" // placeholders
        || link.Contains("dmabuf", StringComparison.Ordinal) || link.StartsWith("/memfd:", StringComparison.Ordinal);

    /// <inheritdoc />
    public override long ReservationPages() => long.Parse(File.ReadAllText(BalloonCurrentKb).Trim(), CultureInfo.InvariantCulture) / 4;

    /// <inheritdoc />
    public override void LetDeferredTimerRun() => Thread.Sleep(2500); // the kernel retries deferred end-access once a second

    /// <inheritdoc />
    public override void SetUnmapNotify(IGrantDevice device, GrantMapping mapping, int byteOffset) =>
        ((LinuxGrantDevice)device).SetUnmapNotify(mapping.Index + (ulong)byteOffset, UnmapNotifyActions.ClearByte);

    /// <inheritdoc />
    public override void WaitUntilBlocked(IGrantDevice device, int waiters) => Thread.Sleep(700 * waiters);

    private static int ReadInt(string path) => int.Parse(File.ReadAllText(path).Trim(), CultureInfo.InvariantCulture);

    private sealed class Udmabuf(LinuxUdmabuf buffer) : HostBuffer
    {
        public override int Fd => buffer.Fd;

        public override PageView Pages => buffer.Pages;

        public override void CloseFd() => buffer.CloseDmaBuf();

        public override void Dispose() => buffer.Dispose();
    }
}
