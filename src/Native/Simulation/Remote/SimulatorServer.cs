using System.Buffers.Binary;
using BufferActors.Native.Linux;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace BufferActors.Native.Simulation.Remote;

/// <summary>An attachment a simulated device made on behalf of a remote client; it belongs to the device and outlives the client.</summary>
/// <param name="Id">The id the client got from DeviceAttach.</param>
/// <param name="Device">The attaching device's name.</param>
/// <param name="AttachedFor">The simulated process (connection) whose fd was attached.</param>
/// <param name="Attachment">The attachment itself.</param>
public sealed record RemoteDeviceAttachment(ulong Id, string Device, string AttachedFor, DmaBufAttachment Attachment);

/// <summary>
/// Serves a <see cref="XenSimulator"/> over a Unix socket with <see cref="SimulatorProtocol"/>, so
/// backend code in other processes can drive it through <see cref="RemoteGrantDevice"/>.
/// </summary>
/// <remarks>
/// <para>Each accepted connection is one <see cref="SimulatedProcess"/> (named after the connection
/// and its peer's pid) which opens one <see cref="SimulatedGrantDevice"/> on Hello. A read thread per
/// connection parses each frame completely before anything runs. WaitReleased then runs on a thread of
/// its own, so while it blocks the connection's other requests keep being served; every other request
/// holds the simulator's lock only briefly and runs on the read thread, in arrival order, so the server
/// never depends on the thread pool (which in-process clients may be blocking). Responses are written
/// under the connection's write lock, so frames never interleave.</para>
/// <para>When the connection ends — the client closed it, died, or was SIGKILLed, or its framing
/// broke — the server waits for that connection's requests in flight to finish and then calls
/// <see cref="SimulatedProcess.Exit"/>: exactly what the kernel does when a process holding
/// /dev/xen/gntdev dies (maps torn down, fds closed, imports released with the file, exports kept
/// while a device still holds them). Only then is the socket closed, so a client that half-closes
/// and waits for end of stream knows the teardown is complete.</para>
/// <para>Devices are shared by all connections and looked up by name; their attachments are kept in
/// a server-wide table (<see cref="DeviceAttachments"/>) because they belong to the device.</para>
/// <para>A timer calls <see cref="XenSimulator.Tick"/> every 100 ms, standing in for the kernel's
/// deferred end-access timer.</para>
/// <para>Every connection the server drops — a frame it cannot split, a read that failed, a peer that hung
/// up inside a frame, a server that stops — is logged at warning level with the peer's credentials and the
/// reason; a client that closes between frames is only logged at debug level.</para>
/// </remarks>
public sealed class SimulatorServer : IDisposable
{
    /// <summary>Period of the deferred end-access retries.</summary>
    public static readonly TimeSpan TickPeriod = TimeSpan.FromMilliseconds(100);

    // How long the accept loop blocks before looking at its stop flag.
    private const int AcceptPollMs = 100;

    private readonly object _gate = new(); // an object, not a Lock: waiters use Monitor.Wait
    private readonly List<Connection> _connections = [];
    private readonly Dictionary<string, SimulatedDevice> _devices = new(StringComparer.Ordinal);
    private readonly Dictionary<ulong, RemoteDeviceAttachment> _attachments = [];
    private ulong _nextAttachmentId = 1;
    private int _nextConnection = 1;
    private int _closedConnections;
    private int _listenFd = -1;
    private Thread? _acceptThread;
    private Timer? _ticker;
    private volatile bool _stopping;
    private bool _disposed;
    private readonly ILogger _log;

    /// <summary>Creates a server for <paramref name="sim"/> that will listen on <paramref name="socketPath"/> once started.</summary>
    /// <param name="sim">The simulator to serve.</param>
    /// <param name="socketPath">The Unix socket path.</param>
    /// <param name="logger">Where dropped connections are reported (none by default).</param>
    public SimulatorServer(XenSimulator sim, string socketPath, ILogger? logger = null)
    {
        ArgumentNullException.ThrowIfNull(sim);
        ArgumentException.ThrowIfNullOrEmpty(socketPath);
        Simulator = sim;
        SocketPath = socketPath;
        _log = logger ?? NullLogger.Instance;
    }

    /// <summary>The served simulator (owned by the caller: <see cref="Dispose"/> does not dispose it).</summary>
    public XenSimulator Simulator { get; }

    /// <summary>The Unix socket path.</summary>
    public string SocketPath { get; }

    /// <summary>Connections accepted and not yet torn down.</summary>
    public int ConnectionCount { get { lock (_gate) return _connections.Count; } }

    /// <summary>Connections whose simulated process has exited since the server started.</summary>
    public int ClosedConnectionCount { get { lock (_gate) return _closedConnections; } }

    /// <summary>Raised after a connection's simulated process has exited, with that process's name.</summary>
    public event Action<string>? ConnectionClosed;

    /// <summary>Attachments devices made for remote clients and that were not detached through the server.</summary>
    public IReadOnlyList<RemoteDeviceAttachment> DeviceAttachments
    {
        get { lock (_gate) return [.. _attachments.Values.OrderBy(a => a.Id)]; }
    }

    /// <summary>Binds the socket (replacing a stale socket file), starts accepting and starts the tick timer.</summary>
    /// <exception cref="GntdevException">The socket cannot be bound, e.g. EADDRINUSE when another server serves the path.</exception>
    public void Start()
    {
        lock (_gate)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            if (_acceptThread is not null) throw new InvalidOperationException("the server is already started");
            _listenFd = UnixSocketInterop.Listen(SocketPath, backlog: 64);
            _acceptThread = new Thread(AcceptLoop) { IsBackground = true, Name = "simulator-accept" };
            _acceptThread.Start();
            _ticker = new Timer(_ => Simulator.Tick(), null, TickPeriod, TickPeriod);
        }
    }

    /// <summary>
    /// Blocks until at least <paramref name="count"/> connections have been torn down (their process
    /// exited) since the server started, or <paramref name="timeout"/> passed. Returns whether it happened.
    /// </summary>
    public bool WaitForClosedConnections(int count, TimeSpan timeout)
    {
        long deadline = Environment.TickCount64 + (long)timeout.TotalMilliseconds;
        lock (_gate)
        {
            while (_closedConnections < count)
            {
                long remaining = deadline - Environment.TickCount64;
                if (remaining <= 0) return false;
                Monitor.Wait(_gate, TimeSpan.FromMilliseconds(remaining));
            }
            return true;
        }
    }

    /// <summary>The simulated device named <paramref name="name"/>, created on first use; remote requests use the same one.</summary>
    public SimulatedDevice Device(string name)
    {
        ArgumentException.ThrowIfNullOrEmpty(name);
        lock (_gate)
        {
            if (!_devices.TryGetValue(name, out var device))
                _devices.Add(name, device = Simulator.AddDevice(name));
            return device;
        }
    }

    /// <summary>Detaches a device attachment (from any client, or from the server's owner). EINVAL if unknown or already detached.</summary>
    public void DetachDevice(ulong attachmentId)
    {
        RemoteDeviceAttachment? entry;
        lock (_gate)
        {
            if (!_attachments.Remove(attachmentId, out entry))
                throw new GntdevException("dma_buf_detach", Errno.EINVAL, $"no device attachment {attachmentId}");
        }
        entry.Attachment.Detach();
    }

    /// <summary>
    /// Stops accepting, deletes the socket file, ends every connection (each one's process exits after
    /// its requests in flight finish: a WaitReleased still blocked keeps it up to that wait's timeout)
    /// and stops the tick timer. The simulator is left to its owner.
    /// </summary>
    public void Dispose()
    {
        Thread? acceptThread;
        lock (_gate)
        {
            if (_disposed) return;
            _disposed = true;
            _stopping = true;
            acceptThread = _acceptThread;
        }
        // Wakes the accept loop's poll at once instead of at its next timeout.
        if (_listenFd >= 0) UnixSocketInterop.Shutdown(_listenFd);
        acceptThread?.Join();
        if (_listenFd >= 0)
        {
            UnixSocketInterop.Close(_listenFd);
            _listenFd = -1;
            try
            {
                File.Delete(SocketPath);
            }
            catch (IOException)
            {
                // Someone else already replaced or removed it; nothing of ours is left there.
            }
        }

        List<Connection> connections;
        lock (_gate) connections = [.. _connections];
        foreach (var c in connections) c.Abort();
        foreach (var c in connections) c.Join();

        if (_ticker is { } ticker)
        {
            // Wait for a tick in progress so none runs after Dispose returns.
            using var stopped = new ManualResetEvent(false);
            if (ticker.Dispose(stopped)) stopped.WaitOne();
        }
    }

    private void AcceptLoop()
    {
        while (!_stopping)
        {
            int fd;
            try
            {
                fd = UnixSocketInterop.Accept(_listenFd, AcceptPollMs);
            }
            catch (UnixSocketException)
            {
                // Shut down by Dispose (EINVAL), or out of descriptors or memory: back off briefly rather
                // than spin, then keep serving unless stopping.
                if (_stopping) return;
                Thread.Sleep(AcceptPollMs);
                continue;
            }
            if (fd < 0) continue;
            Connection connection;
            lock (_gate)
            {
                if (_stopping)
                {
                    UnixSocketInterop.Close(fd);
                    return;
                }
                int number = _nextConnection++;
                var peer = UnixSocketInterop.Peer(fd);
                var process = Simulator.StartProcess(peer.Pid > 0 ? $"remote#{number} (pid {peer.Pid})" : $"remote#{number}");
                connection = new Connection(this, fd, process, peer);
                _connections.Add(connection);
            }
            connection.Start();
        }
    }

    private void Closed(Connection connection)
    {
        lock (_gate)
        {
            _connections.Remove(connection);
            _closedConnections++;
            Monitor.PulseAll(_gate);
        }
        ConnectionClosed?.Invoke(connection.Process.Name);
    }

    private ulong AddAttachment(string device, SimulatedProcess process, DmaBufAttachment attachment)
    {
        lock (_gate)
        {
            ulong id = _nextAttachmentId++;
            _attachments.Add(id, new RemoteDeviceAttachment(id, device, process.Name, attachment));
            return id;
        }
    }

    /// <summary>One client: its simulated process, its gntdev instance, its read thread and its requests in flight.</summary>
    private sealed class Connection
    {
        private readonly SimulatorServer _server;
        private readonly XenSimulator _sim;
        private readonly int _fd;
        private readonly Lock _writeLock = new();
        private readonly object _stateLock = new(); // Monitor.Wait for requests in flight
        private readonly Thread _thread;
        private readonly Dictionary<ulong, GrantMapping> _maps = [];
        private SimulatedGrantDevice? _device;
        private int _inFlight;
        private bool _fdClosed;
        private bool _writeFailed;
        private bool _aborted;

        public Connection(SimulatorServer server, int fd, SimulatedProcess process, PeerCredentials peer)
        {
            _server = server;
            _sim = server.Simulator;
            _fd = fd;
            Process = process;
            Peer = peer;
            _thread = new Thread(ReadLoop) { IsBackground = true, Name = $"simulator-{process.Name}" };
        }

        public SimulatedProcess Process { get; }

        public PeerCredentials Peer { get; }

        public void Start() => _thread.Start();

        public void Join() => _thread.Join();

        /// <summary>Wakes the read loop with end of stream; it then tears the connection down itself.</summary>
        public void Abort()
        {
            lock (_stateLock)
            {
                _aborted = true;
                // Never shut down a number that was closed and may already belong to someone else.
                if (!_fdClosed) UnixSocketInterop.Shutdown(_fd);
            }
        }

        private void ReadLoop()
        {
            var fds = new List<int>();
            string? dropped = null; // why the server ends the connection; null when the client closed it between frames
            try
            {
                var prefix = new byte[SimulatorProtocol.LengthPrefixSize];
                while (true)
                {
                    if (!UnixSocketInterop.ReceiveExactly(_fd, prefix, fds)) break;
                    uint length = BinaryPrimitives.ReadUInt32LittleEndian(prefix);
                    if (length < SimulatorProtocol.RequestHeaderLength || length > SimulatorProtocol.MaxFrameLength)
                    {
                        // The stream can no longer be split into frames: say why, then hang up.
                        dropped = length < SimulatorProtocol.RequestHeaderLength
                            ? $"frame length {length} is shorter than the {SimulatorProtocol.RequestHeaderLength}-byte request header"
                            : $"frame length {length} exceeds the maximum of {SimulatorProtocol.MaxFrameLength}";
                        Send(FrameWriter.Failure(0, SimulatorOpcode.None, "simulator frame", Errno.EINVAL, dropped + "; closing the connection"));
                        break;
                    }
                    var body = new byte[length];
                    // End of stream inside a frame: the client died mid-write; there is nothing to answer.
                    if (!UnixSocketInterop.ReceiveExactly(_fd, body, fds))
                    {
                        dropped = $"end of stream after the length prefix of a {length}-byte frame";
                        break;
                    }
                    Dispatch(body, fds);
                    fds.Clear();
                }
            }
            catch (UnixSocketException e)
            {
                // Connection reset, or descriptors dropped (MSG_CTRUNC): the connection is over either way.
                dropped = $"{e.Operation}: {e.Errno}: {e.Detail}";
            }
            finally
            {
                foreach (var fd in fds) UnixSocketInterop.Close(fd);
                lock (_stateLock)
                {
                    if (_aborted) dropped ??= "the server is stopping";
                }
                if (dropped is null) _server._log.LogDebug("simulator connection {Connection} ({Peer}) closed by the client", Process.Name, Peer);
                else _server._log.LogWarning("simulator server dropped connection {Connection} ({Peer}): {Reason}", Process.Name, Peer, dropped);
                TearDown();
            }
        }

        private void TearDown()
        {
            lock (_stateLock)
            {
                while (_inFlight > 0) Monitor.Wait(_stateLock);
            }
            try
            {
                // As the kernel on process exit: address space (maps) first, then every descriptor.
                Process.Exit();
            }
            catch (Exception e) when (e is InvalidOperationException or GntdevException)
            {
                // A broken simulator invariant must fail the run visibly, not kill the server thread.
                using (_sim.Gate.Enter()) _sim.Violation($"exit of {Process.Name} failed: {e.Message}");
            }
            finally
            {
                // Counted closed before the socket closes: a client that saw end of stream finds it so.
                _server.Closed(this);
                lock (_stateLock)
                {
                    UnixSocketInterop.Close(_fd);
                    _fdClosed = true;
                }
            }
        }

        private void Dispatch(byte[] body, List<int> fds)
        {
            var reader = new FrameReader(body);
            uint id = reader.U32("request id");
            var opcode = (SimulatorOpcode)reader.U16("opcode");
            string op = SimulatorProtocol.OperationName(opcode);
            if (fds.Count > 0)
            {
                foreach (var fd in fds) UnixSocketInterop.Close(fd);
                Send(FrameWriter.Failure(id, opcode, op, Errno.EINVAL, $"requests carry no descriptors; {fds.Count} received were closed"));
                return;
            }
            if (!SimulatorProtocol.IsKnown(opcode))
            {
                Send(FrameWriter.Failure(id, opcode, op, Errno.EINVAL, $"unknown opcode {(ushort)opcode} (protocol version {SimulatorProtocol.Version} knows 1..{(ushort)SimulatorOpcode.PendingEndAccess})"));
                return;
            }
            if (id == 0)
            {
                Send(FrameWriter.Failure(0, opcode, op, Errno.EINVAL, "request id 0 is reserved for connection-level errors"));
                return;
            }

            Func<FrameWriter> work;
            try
            {
                work = Parse(id, opcode, ref reader);
            }
            catch (ProtocolException e)
            {
                Send(FrameWriter.Failure(id, opcode, op, Errno.EINVAL, e.Message));
                return;
            }

            if (opcode != SimulatorOpcode.Hello && Volatile.Read(ref _device) is null)
            {
                Send(FrameWriter.Failure(id, opcode, op, Errno.EINVAL, "the first request of a connection must be Hello"));
                return;
            }
            if (opcode != SimulatorOpcode.WaitReleased)
            {
                // Every other operation holds the simulator's lock only briefly, so it runs right here, in
                // arrival order, without a pool thread (in-process clients may be blocking those while
                // they wait for this very response).
                Send(Run(id, opcode, work));
                return;
            }

            // WaitReleased may block for its whole timeout: it gets a thread of its own so the
            // connection's other requests (the close that releases the buffer, say) keep flowing.
            lock (_stateLock) _inFlight++;
            Task.Factory.StartNew(() =>
            {
                try
                {
                    Send(Run(id, opcode, work));
                }
                finally
                {
                    lock (_stateLock)
                    {
                        if (--_inFlight == 0) Monitor.PulseAll(_stateLock);
                    }
                }
            }, CancellationToken.None, TaskCreationOptions.LongRunning, TaskScheduler.Default);
        }

        private static FrameWriter Run(uint id, SimulatorOpcode opcode, Func<FrameWriter> work)
        {
            string op = SimulatorProtocol.OperationName(opcode);
            try
            {
                return work();
            }
            catch (GntdevException e)
            {
                return FrameWriter.Failure(id, opcode, e.Operation, e.Errno, e.Detail, e.GrantStatus, e.FailedPage);
            }
            catch (NativeCallException e)
            {
                return FrameWriter.Failure(id, opcode, e.Operation, e.Errno, e.Detail, null, null);
            }
            catch (ProtocolException e)
            {
                return FrameWriter.Failure(id, opcode, op, Errno.EINVAL, e.Message);
            }
            catch (Exception e) when (e is InvalidOperationException or ArgumentException)
            {
                // A simulator invariant tripped: report it to the client instead of killing the connection.
                return FrameWriter.Failure(id, opcode, op, Errno.EIO, $"simulator error: {e.Message}");
            }
        }

        /// <summary>Reads the request's fields (all of them, before anything runs) and returns the work.</summary>
        private Func<FrameWriter> Parse(uint id, SimulatorOpcode opcode, ref FrameReader r)
        {
            string name = opcode.ToString();
            switch (opcode)
            {
                case SimulatorOpcode.Hello:
                {
                    ushort version = r.U16("version");
                    r.End(name);
                    return () => Hello(id, version);
                }
                case SimulatorOpcode.MapGrantRefs:
                {
                    var domain = new DomainId(r.U16("domid"));
                    bool readOnly = r.Bool("readOnly");
                    var refs = r.U32Array("refs");
                    r.End(name);
                    return () => Map(id, domain, refs, readOnly);
                }
                case SimulatorOpcode.UnmapGrantRefs:
                {
                    ulong index = r.U64("index");
                    r.End(name);
                    return () => Unmap(id, index);
                }
                case SimulatorOpcode.ExportDmaBuf:
                {
                    var flags = (DmaBufFlags)r.U32("flags");
                    var domain = new DomainId(r.U16("domid"));
                    var refs = r.U32Array("refs");
                    r.End(name);
                    return () => FrameWriter.Success(id, opcode).I32(Device.ExportDmaBuf(flags, domain, refs).Fd);
                }
                case SimulatorOpcode.WaitReleased:
                {
                    int fd = r.I32("fd");
                    uint timeoutMs = r.U32("timeoutMs");
                    r.End(name);
                    return () => FrameWriter.Success(id, opcode).U8((byte)Device.WaitReleased(fd, timeoutMs));
                }
                case SimulatorOpcode.ImportDmaBuf:
                {
                    int fd = r.I32("fd");
                    int count = r.I32("count");
                    var domain = new DomainId(r.U16("domid"));
                    r.End(name);
                    return () => FrameWriter.Success(id, opcode).U32Array([.. Device.ImportDmaBuf(fd, count, domain).Refs]);
                }
                case SimulatorOpcode.ReleaseImport:
                {
                    int fd = r.I32("fd");
                    r.End(name);
                    return () => { Device.ReleaseImport(fd); return FrameWriter.Success(id, opcode); };
                }
                case SimulatorOpcode.DuplicateFd:
                {
                    int fd = r.I32("fd");
                    r.End(name);
                    return () => FrameWriter.Success(id, opcode).I32(Device.DuplicateFd(fd));
                }
                case SimulatorOpcode.ReplaceWithPlaceholder:
                {
                    int fd = r.I32("fd");
                    r.End(name);
                    return () => { Device.ReplaceWithPlaceholder(fd); return FrameWriter.Success(id, opcode); };
                }
                case SimulatorOpcode.PendingEndAccess:
                {
                    var refs = r.U32Array("refs");
                    r.End(name);
                    return () => FrameWriter.Success(id, opcode).U32Array([.. Device.PendingEndAccess(refs) ?? []]);
                }
                case SimulatorOpcode.CloseFd:
                {
                    int fd = r.I32("fd");
                    r.End(name);
                    return () => { Device.CloseFd(fd); return FrameWriter.Success(id, opcode); };
                }
                case SimulatorOpcode.DeviceAttach:
                {
                    string device = DeviceName(ref r);
                    int fd = r.I32("fd");
                    r.End(name);
                    return () =>
                    {
                        var attachment = _server.Device(device).Attach(Process, fd);
                        return FrameWriter.Success(id, opcode).U64(_server.AddAttachment(device, Process, attachment));
                    };
                }
                case SimulatorOpcode.DeviceDetach:
                {
                    ulong attachment = r.U64("attachment id");
                    r.End(name);
                    return () => { _server.DetachDevice(attachment); return FrameWriter.Success(id, opcode); };
                }
                case SimulatorOpcode.DeviceAllocateBuffer:
                {
                    string device = DeviceName(ref r);
                    int pages = r.I32("pages");
                    r.End(name);
                    return () => FrameWriter.Success(id, opcode).I32(_server.Device(device).AllocateBuffer(Process, pages));
                }
                case SimulatorOpcode.Ledger:
                {
                    r.End(name);
                    return () => Ledger(id);
                }
                default:
                    throw new ProtocolException($"unknown opcode {(ushort)opcode}");
            }
        }

        private SimulatedGrantDevice Device => Volatile.Read(ref _device)!;

        private static string DeviceName(ref FrameReader r)
        {
            string device = r.Str("device name");
            if (device.Length == 0) throw new ProtocolException("device name is empty");
            if (System.Text.Encoding.UTF8.GetByteCount(device) > SimulatorProtocol.MaxDeviceNameBytes)
                throw new ProtocolException($"device name is longer than {SimulatorProtocol.MaxDeviceNameBytes} bytes");
            return device;
        }

        private FrameWriter Hello(uint id, ushort version)
        {
            if (version != SimulatorProtocol.Version)
                throw new GntdevException("open", Errno.EINVAL, $"protocol version {version} is not supported; this simulator speaks version {SimulatorProtocol.Version}");
            if (_device is not null)
                throw new GntdevException("open", Errno.EINVAL, "Hello was already done on this connection");
            var device = _sim.OpenGrantDevice(Process);
            Volatile.Write(ref _device, device);
            return FrameWriter.Success(id, SimulatorOpcode.Hello)
                .U16(SimulatorProtocol.Version).I32(device.PageLimit).I32(Process.Pid).Str(Process.Name, truncate: true);
        }

        private FrameWriter Map(uint id, DomainId domain, uint[] refs, bool readOnly)
        {
            // Under the simulator's lock (re-entrant) so the frames read back are the ones just mapped.
            using (_sim.Gate.Enter())
            {
                var mapping = Device.MapGrantRefs(domain, refs, readOnly);
                var granter = _sim.Domain(domain);
                var frames = new uint[refs.Length];
                for (int i = 0; i < refs.Length; i++) frames[i] = granter.Grants.FrameOf(refs[i]);
                lock (_stateLock) _maps[mapping.Index] = mapping;
                // The granting domain's memfd rides along so the client maps the very same pages.
                return FrameWriter.Success(id, SimulatorOpcode.MapGrantRefs).U64(mapping.Index).U32Array(frames)
                    .WithDescriptor(granter.Memory.Fd);
            }
        }

        private FrameWriter Unmap(uint id, ulong index)
        {
            GrantMapping? mapping;
            lock (_stateLock) _maps.TryGetValue(index, out mapping);
            // An index this connection never got still goes to the device, which refuses it as the kernel would.
            mapping ??= new GrantMapping(index, default, [], false, EmptyPages.Instance);
            Device.UnmapGrantRefs(mapping);
            lock (_stateLock) _maps.Remove(index);
            return FrameWriter.Success(id, SimulatorOpcode.UnmapGrantRefs);
        }

        private FrameWriter Ledger(uint id)
        {
            var l = _sim.Ledger();
            return FrameWriter.Success(id, SimulatorOpcode.Ledger)
                .I32(l.Maps).I32(l.MappedGrants).I32(l.GrantedRefs).I32(l.DmaBufs).I32(l.Attachments).I32(l.OpenFds)
                .I32(l.Exports).I32(l.Imports).I64(l.ReservationPages).I32(l.DeferredRefs).I64(l.OldestDeferredTicks)
                .Str(l.ReservationByDomain, truncate: true);
        }

        private void Send(FrameWriter frame)
        {
            ReadOnlyMemory<byte> bytes;
            int fd = frame.Descriptor;
            try
            {
                bytes = frame.Complete();
            }
            catch (ProtocolException e)
            {
                // Only a result too large for a frame gets here; the request did run.
                bytes = FrameWriter.Failure(frame.RequestId, frame.Opcode, "simulator frame", Errno.EIO, e.Message).Complete();
                fd = -1;
            }
            lock (_writeLock)
            {
                if (_writeFailed) return;
                try
                {
                    UnixSocketInterop.Send(_fd, bytes.Span, fd >= 0 ? [fd] : []);
                }
                catch (UnixSocketException)
                {
                    // The peer is gone (EPIPE / ECONNRESET): the read loop sees it too and tears down.
                    _writeFailed = true;
                    lock (_stateLock)
                    {
                        if (!_fdClosed) UnixSocketInterop.Shutdown(_fd);
                    }
                }
            }
        }
    }

    /// <summary>The page view of a placeholder mapping handed to the device only to be refused.</summary>
    private sealed class EmptyPages : PageView
    {
        public static readonly EmptyPages Instance = new();
        public override int PageCount => 0;
        protected override Span<byte> Bytes(int index) => throw new ArgumentOutOfRangeException(nameof(index));
    }
}
