namespace BufferActors.Native.Simulation;

/// <summary>
/// A process of the backend domain: an fd table (lowest free number first, as POSIX requires, so
/// numbers are reused after close) and the grant maps it has mmapped. <see cref="Exit"/> tears it
/// down as the kernel does on process exit, SIGKILL included.
/// </summary>
public sealed class SimulatedProcess
{
    private const int FirstFd = 3; // 0..2 are stdio
    private readonly XenSimulator _sim;
    // The kernel's limit on descriptor numbers (RLIMIT_NOFILE's usual hard limit): dup3 beyond it is EBADF.
    private const int NumberLimit = 1 << 20;
    // The open file of each number (null: free), dense like the kernel's fd array: a slot per number, where a sorted
    // dictionary takes a 56-byte node per open descriptor (docs/performance.md, "Scale").
    private readonly List<object?> _files = [];
    private int _open;
    // Closed numbers below _top, so the lowest free number is found without scanning the table
    // (a backend with 100,000 live exports has 100,000 open descriptors).
    private readonly SortedSet<int> _closed = [];
    private int _top = FirstFd;

    internal SimulatedProcess(XenSimulator sim, int pid, string name)
    {
        _sim = sim;
        Pid = pid;
        Name = name;
    }

    /// <summary>Simulated process id.</summary>
    public int Pid { get; }

    /// <summary>Name for reports.</summary>
    public string Name { get; }

    /// <summary>False once exited.</summary>
    public bool IsAlive { get; private set; } = true;

    /// <summary>Open descriptors.</summary>
    public int OpenFds { get { using (_sim.Gate.Enter()) return _open; } }

    /// <summary>True while <paramref name="fd"/> is an open descriptor of this process.</summary>
    public bool IsOpen(int fd)
    {
        using (_sim.Gate.Enter())
        {
            return FileOf(fd) is not null;
        }
    }

    /// <summary>The dma-buf behind <paramref name="fd"/>; EBADF if not open, EINVAL if not a dma-buf.</summary>
    public DmaBuf DmaBufOf(int fd)
    {
        using (_sim.Gate.Enter())
        {
            return Lookup(fd, "dma_buf_get") as DmaBuf
                ?? throw new GntdevException("dma_buf_get", Errno.EINVAL, $"fd {fd} of {Name} is not a dma-buf");
        }
    }

    /// <summary>dup(2): a new descriptor for the same open file.</summary>
    public int Dup(int fd)
    {
        using (_sim.Gate.Enter())
        {
            var file = Lookup(fd, "dup");
            TakeReference(file);
            return Install(file);
        }
    }

    /// <summary>
    /// A descriptor passed over a Unix socket (<c>SCM_RIGHTS</c>): <paramref name="sender"/>'s file
    /// <paramref name="fd"/> gets a new descriptor in this process, which holds it until it closes it or exits.
    /// EBADF if the sender has no such descriptor.
    /// </summary>
    public int ReceiveFrom(SimulatedProcess sender, int fd)
    {
        ArgumentNullException.ThrowIfNull(sender);
        using (_sim.Gate.Enter())
        {
            var file = sender.Lookup(fd, "sendmsg");
            TakeReference(file);
            return Install(file);
        }
    }

    /// <summary>
    /// dup3(2): <paramref name="number"/> becomes a descriptor for <paramref name="fd"/>'s file, closing what
    /// it named before. EBADF if <paramref name="fd"/> is not open or <paramref name="number"/> is negative;
    /// EINVAL if the two are equal.
    /// </summary>
    public void DupTo(int fd, int number)
    {
        using (_sim.Gate.Enter())
        {
            var file = Lookup(fd, "dup3");
            if (number < 0 || number >= NumberLimit) throw new GntdevException("dup3", Errno.EBADF, $"{number} is not a descriptor number");
            if (number == fd) throw new GntdevException("dup3", Errno.EINVAL, "dup3 to the same number");
            TakeReference(file);
            if (FileOf(number) is { } previous)
            {
                _files[number] = file;
                PutFile(previous);
                return;
            }
            // Numbers skipped on the way up to a high one are free, like closed ones.
            for (; _top <= number; _top++) _closed.Add(_top);
            _closed.Remove(number);
            Put(number, file);
            _sim.FdCountChanged(+1);
        }
    }

    /// <summary>dup3 of a placeholder (a /dev/null) onto <paramref name="fd"/>: the file behind it loses this reference, the number stays taken. EBADF if not open.</summary>
    public void ReplaceWithPlaceholder(int fd)
    {
        using (_sim.Gate.Enter())
        {
            var file = Lookup(fd, "dup3");
            if (file is PlainFile { Name: Placeholder }) return;
            _files[fd] = new PlainFile(Placeholder);
            PutFile(file);
        }
    }

    private const string Placeholder = "/dev/null";

    /// <summary>Opens a file that is neither a dma-buf nor a grant device (a memfd, say): what a caller passes by mistake.</summary>
    public int OpenPlainFile(string name)
    {
        using (_sim.Gate.Enter()) return Install(new PlainFile(name));
    }

    /// <summary>close(2). EBADF if <paramref name="fd"/> is not open.</summary>
    public void Close(int fd)
    {
        using (_sim.Gate.Enter())
        {
            var file = Lookup(fd, "close");
            _files[fd] = null;
            _open--;
            _closed.Add(fd);
            _sim.FdCountChanged(-1);
            PutFile(file);
        }
    }

    /// <summary>Process exit: every mapping is torn down, then every descriptor closed.</summary>
    public void Exit()
    {
        using (_sim.Gate.Enter())
        {
            if (!IsAlive) return;
            IsAlive = false;
            // The address space goes first: every mmapped grant map is unmapped with it.
            foreach (var device in _files.OfType<SimulatedGrantDevice>().ToList()) device.TearDownMaps();
            for (int fd = 0; fd < _files.Count; fd++) if (_files[fd] is not null) Close(fd);
            _sim.ProcessExited(this);
        }
    }

    internal int Install(object file)
    {
        if (!IsAlive) throw new GntdevException("open", Errno.EBADF, $"process {Name} has exited");
        // Every free number is either a closed one (all below _top) or at least _top.
        int fd = _closed.Count > 0 ? _closed.Min : _top++;
        _closed.Remove(fd);
        Put(fd, file);
        _sim.FdCountChanged(+1);
        return fd;
    }

    /// <summary>A new descriptor's reference on its file (what <c>get_file</c> does for dup and descriptor passing).</summary>
    private static void TakeReference(object file)
    {
        if (file is DmaBuf buf) buf.Get();
        else if (file is SimulatedGrantDevice device) device.GetFile();
    }

    internal object Lookup(int fd, string op) =>
        FileOf(fd) ?? throw new GntdevException(op, Errno.EBADF, $"fd {fd} is not open in {Name}");

    private static void PutFile(object file)
    {
        if (file is DmaBuf buf) buf.Put();
        else if (file is SimulatedGrantDevice device) device.PutFile();
    }

    /// <summary>A file with no behaviour the simulator models (no reference count: every descriptor is its own).</summary>
    private sealed record PlainFile(string Name);

    private object? FileOf(int fd) => fd >= 0 && fd < _files.Count ? _files[fd] : null;

    /// <summary>Makes the free number <paramref name="fd"/> name <paramref name="file"/>.</summary>
    private void Put(int fd, object file)
    {
        while (_files.Count <= fd) _files.Add(null);
        _files[fd] = file;
        _open++;
    }
}
