using BufferActors.Native;
using BufferActors.Native.Simulation;

namespace BufferActors.Conformance;

/// <summary>
/// The simulator, set up as the lane's dom0: one backend process whose gntdev instances, grant allocator
/// and udmabuf-like buffers all belong to the backend domain, which grants to itself.
/// </summary>
public sealed class SimulatorTarget : ConformanceTarget
{
    private readonly XenSimulator _sim = new(new SimulatorOptions { Seed = 1 });
    private readonly SimulatedProcess _process;
    private readonly SimulatedDevice _udmabuf;

    /// <summary>Creates the simulated dom0 and its backend process.</summary>
    public SimulatorTarget()
    {
        _process = _sim.StartProcess("conformance");
        _udmabuf = _sim.AddDevice("udmabuf");
    }

    /// <summary>The simulator (for the ledger check after each case).</summary>
    public XenSimulator Simulator => _sim;

    /// <inheritdoc />
    public override string Name => "simulator";

    /// <inheritdoc />
    public override IGrantDevice OpenGntdev() => _sim.OpenGrantDevice(_process);

    /// <inheritdoc />
    public override IGrantAllocator OpenAllocator() => _sim.OpenGrantAllocator();

    /// <inheritdoc />
    public override int AllocatorLimit
    {
        get => _sim.Backend.GntallocLimit;
        set => _sim.Backend.GntallocLimit = value;
    }

    /// <inheritdoc />
    public override int GntdevPageLimit
    {
        get => _sim.GntdevPageLimit;
        set => _sim.GntdevPageLimit = value;
    }

    /// <inheritdoc />
    public override HostBuffer CreateHostBuffer(int pages)
    {
        int fd = _udmabuf.AllocateBuffer(_process, pages);
        return new SimulatedHostBuffer(_process, fd, _process.DmaBufOf(fd).CpuView());
    }

    /// <inheritdoc />
    public override int OpenPlainFile() => _process.OpenPlainFile("memfd:plain");

    /// <inheritdoc />
    public override void Close(int fd) => _process.Close(fd);

    /// <inheritdoc />
    public override int Dup(int fd) => _process.Dup(fd);

    /// <inheritdoc />
    /// <remarks>The simulator has no page protections; it answers as gntdev's mmap rules do: a read-only map
    /// is private with VM_MAYWRITE cleared (EACCES), a writable one is shared and writable.</remarks>
    public override void MakeWritable(GrantMapping mapping)
    {
        if (mapping.ReadOnly) throw new GntdevException("mprotect", Errno.EACCES, "a read-only grant map cannot become writable");
    }

    /// <inheritdoc />
    public override void DupTo(int fd, int number) => _process.DupTo(fd, number);

    /// <inheritdoc />
    public override void ReloadGrantAllocator() => _sim.Backend.ReloadGntalloc();

    /// <inheritdoc />
    public override long SizeOf(int fd) => _process.DmaBufOf(fd).SizeBytes;

    /// <inheritdoc />
    public override int OpenFdCount() => _process.OpenFds;

    /// <inheritdoc />
    public override long ReservationPages() => _sim.Backend.Reservation;

    /// <inheritdoc />
    public override void LetDeferredTimerRun()
    {
        for (int i = 0; i < 3; i++) _sim.Tick();
    }

    /// <inheritdoc />
    public override void SetUnmapNotify(IGrantDevice device, GrantMapping mapping, int byteOffset) =>
        ((SimulatedGrantDevice)device).SetUnmapNotify(mapping.Index + (ulong)byteOffset, UnmapNotifyActions.ClearByte);

    /// <inheritdoc />
    public override void WaitUntilBlocked(IGrantDevice device, int waiters)
    {
        var gntdev = (SimulatedGrantDevice)device;
        SpinWait.SpinUntil(() => gntdev.BlockedWaiters >= waiters, TimeSpan.FromSeconds(10));
    }

    /// <inheritdoc />
    public override void Dispose()
    {
        _process.Exit();
        _sim.Dispose();
        base.Dispose();
    }

    private sealed class SimulatedHostBuffer(SimulatedProcess process, int fd, PageView pages) : HostBuffer
    {
        private bool _open = true;

        public override int Fd => fd;

        public override PageView Pages => pages;

        public override void CloseFd()
        {
            process.Close(fd);
            _open = false;
        }

        public override void Dispose()
        {
            if (_open) CloseFd();
        }
    }
}
