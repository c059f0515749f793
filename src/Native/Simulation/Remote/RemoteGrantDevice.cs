using System.Buffers.Binary;
using BufferActors.Native.Linux;

namespace BufferActors.Native.Simulation.Remote;

/// <summary>
/// A gntdev instance of a simulator running in another process (<c>bufferactors simulator serve</c>),
/// reached over its Unix socket with <see cref="SimulatorProtocol"/>. The connection is one simulated
/// backend process holding this one instance.
/// </summary>
/// <remarks>
/// <para>Every <see cref="IGrantDevice"/> call is one request; a failure is rethrown as
/// <see cref="GntdevException"/> with the server's operation, errno, grant status and failed page.
/// If the connection is lost, calls fail with EIO.</para>
/// <para><see cref="MapGrantRefs"/> receives the granting domain's memory as a memfd and mmaps it
/// MAP_SHARED, so the mapping's pages are the frontend's pages (no copy). A read-only map is mapped
/// without PROT_WRITE: writing through its spans faults the process, as with the real device. After
/// <see cref="UnmapGrantRefs"/> or <see cref="Dispose"/> the page view throws
/// <see cref="ObjectDisposedException"/>.</para>
/// <para>dma-buf fds are descriptor numbers of the simulated process, not of this one.</para>
/// <para><see cref="Dispose"/> ends the connection, which the server treats as the exit of the
/// simulated process (every fd it holds is closed, not only the gntdev one); it returns once the
/// server has finished that teardown or after <see cref="DisposeTimeout"/>.</para>
/// </remarks>
public sealed class RemoteGrantDevice : IGrantDevice
{
    /// <summary>How long <see cref="Dispose"/> waits for the server to finish tearing the process down.</summary>
    public static readonly TimeSpan DisposeTimeout = TimeSpan.FromSeconds(10);

    private readonly int _fd;
    private readonly Lock _gate = new();
    private readonly Lock _writeLock = new();
    private readonly Dictionary<uint, TaskCompletionSource<ResponseFrame>> _pending = [];
    private readonly Dictionary<ulong, LocalMap> _maps = [];
    private readonly Thread _reader;
    private int _nextId;
    private string? _lostReason;
    private bool _disposed;

    private RemoteGrantDevice(int fd, string socketPath)
    {
        _fd = fd;
        SocketPath = socketPath;
        _reader = new Thread(ReadLoop) { IsBackground = true, Name = "remote-gntdev-reader" };
        _reader.Start();
    }

    /// <summary>The simulator's socket.</summary>
    public string SocketPath { get; }

    /// <inheritdoc />
    public int PageLimit { get; private set; }

    /// <summary>The pid of the simulated process this connection is.</summary>
    public int SimulatedPid { get; private set; }

    /// <summary>The name the server gave the simulated process.</summary>
    public string ProcessName { get; private set; } = "";

    /// <summary>Connects to the simulator serving <paramref name="socketPath"/> and opens a gntdev instance there.</summary>
    /// <exception cref="GrantDeviceUnavailableException">Nothing serves the path, or the server refused the connection.</exception>
    public static RemoteGrantDevice Connect(string socketPath)
    {
        ArgumentException.ThrowIfNullOrEmpty(socketPath);
        int fd;
        try
        {
            fd = UnixSocketInterop.Connect(socketPath);
        }
        catch (UnixSocketException e)
        {
            throw new GrantDeviceUnavailableException(socketPath, e.Errno,
                $"no simulator is listening on {socketPath} ({e.Detail}). Start one with `bufferactors simulator serve --socket {socketPath}`.");
        }

        var device = new RemoteGrantDevice(fd, socketPath);
        try
        {
            var response = device.Call(FrameWriter.Request(device.NextId(), SimulatorOpcode.Hello).U16(SimulatorProtocol.Version));
            var r = response.Payload();
            ushort version = r.U16("version");
            device.PageLimit = r.I32("page limit");
            device.SimulatedPid = r.I32("pid");
            device.ProcessName = r.Str("process name");
            r.End("Hello response");
            if (version != SimulatorProtocol.Version)
                throw new GntdevException("open", Errno.EINVAL, $"the server answered with protocol version {version}, not {SimulatorProtocol.Version}");
            return device;
        }
        catch (Exception e) when (e is NativeCallException or ProtocolException)
        {
            device.Dispose();
            var errno = e is NativeCallException n ? n.Errno : Errno.EINVAL;
            throw new GrantDeviceUnavailableException(socketPath, errno, $"the simulator at {socketPath} refused the connection: {e.Message}");
        }
    }

    /// <inheritdoc />
    public GrantMapping MapGrantRefs(DomainId domain, ReadOnlySpan<uint> refs, bool readOnly = false)
    {
        const SimulatorOpcode opcode = SimulatorOpcode.MapGrantRefs;
        var response = Call(FrameWriter.Request(NextId(), opcode).U16(domain.Value).U8(readOnly ? (byte)1 : (byte)0).U32Array(refs));
        ulong index;
        uint[] frames;
        int memfd = response.Fds.Count == 1 ? response.Fds[0] : -1;
        try
        {
            var r = response.Payload();
            index = r.U64("index");
            frames = r.U32Array("frames");
            r.End("MapGrantRefs response");
            if (memfd < 0) throw new ProtocolException($"the MapGrantRefs response carried {response.Fds.Count} descriptors, not the domain's memfd");
            if (frames.Length != refs.Length) throw new ProtocolException($"{frames.Length} frames for {refs.Length} refs");
        }
        catch (ProtocolException e)
        {
            CloseAll(response.Fds);
            UnmapOnServer(response);
            throw Lost(opcode, $"malformed response: {e.Message}");
        }
        foreach (var extra in response.Fds.Skip(1)) UnixSocketInterop.Close(extra);

        // Map only the span of frames the grants cover; page i is then at (frame[i] - first) pages in.
        uint first = frames.Min();
        uint last = frames.Max();
        MappedRegion region;
        try
        {
            region = SharedMemory.MapShared(memfd, (long)first * PageView.PageSize, ((long)last - first + 1) * PageView.PageSize, writable: !readOnly);
        }
        catch (NativeCallException e)
        {
            // Leave the device as it was before the call: the server-side map goes too.
            UnixSocketInterop.Close(memfd);
            UnmapOnServer(index);
            throw new GntdevException("MAP_GRANT_REF", e.Errno, $"the server mapped the refs but this process cannot map their pages: {e.Detail}");
        }
        var local = new LocalMap(region, memfd);
        lock (_gate)
        {
            // Disposed meanwhile: the server-side map went with the connection; do not leak this half.
            if (!_disposed) _maps[index] = local;
            else local = null;
        }
        if (local is null)
        {
            region.Dispose();
            UnixSocketInterop.Close(memfd);
            throw Lost(opcode, "the device was disposed during the call");
        }
        return new GrantMapping(index, domain, refs.ToArray(), readOnly, new RemotePageView(region, frames, first, readOnly));
    }

    /// <inheritdoc />
    public void UnmapGrantRefs(GrantMapping mapping)
    {
        ArgumentNullException.ThrowIfNull(mapping);
        // The server goes first: if it refuses, the local mapping stays valid, as the device state does.
        Call(FrameWriter.Request(NextId(), SimulatorOpcode.UnmapGrantRefs).U64(mapping.Index)).Payload().End("UnmapGrantRefs response");
        LocalMap? local;
        lock (_gate) _maps.Remove(mapping.Index, out local);
        local?.Dispose();
    }

    /// <inheritdoc />
    public ExportedDmaBuf ExportDmaBuf(DmaBufFlags flags, DomainId domain, ReadOnlySpan<uint> refs)
    {
        var response = Call(FrameWriter.Request(NextId(), SimulatorOpcode.ExportDmaBuf).U32((uint)flags).U16(domain.Value).U32Array(refs));
        int fd = Decode(response, SimulatorOpcode.ExportDmaBuf, (ref FrameReader r) => r.I32("fd"));
        return new ExportedDmaBuf(fd, domain, refs.ToArray(), flags);
    }

    /// <inheritdoc />
    public WaitReleasedResult WaitReleased(int fd, uint timeoutMs)
    {
        var response = Call(FrameWriter.Request(NextId(), SimulatorOpcode.WaitReleased).I32(fd).U32(timeoutMs));
        byte result = Decode(response, SimulatorOpcode.WaitReleased, (ref FrameReader r) => r.U8("result"));
        return result <= (byte)WaitReleasedResult.NotFound
            ? (WaitReleasedResult)result
            : throw Lost(SimulatorOpcode.WaitReleased, $"malformed response: result {result}");
    }

    /// <inheritdoc />
    public ImportedDmaBuf ImportDmaBuf(int fd, int count, DomainId domain)
    {
        var response = Call(FrameWriter.Request(NextId(), SimulatorOpcode.ImportDmaBuf).I32(fd).I32(count).U16(domain.Value));
        var refs = Decode(response, SimulatorOpcode.ImportDmaBuf, (ref FrameReader r) => r.U32Array("refs"));
        return new ImportedDmaBuf(fd, domain, refs);
    }

    /// <inheritdoc />
    public void ReleaseImport(int fd) => CallEmpty(FrameWriter.Request(NextId(), SimulatorOpcode.ReleaseImport).I32(fd));

    /// <inheritdoc />
    public IReadOnlyList<uint>? PendingEndAccess(ReadOnlySpan<uint> refs) =>
        Decode(Call(FrameWriter.Request(NextId(), SimulatorOpcode.PendingEndAccess).U32Array(refs)), SimulatorOpcode.PendingEndAccess,
            (ref FrameReader r) => r.U32Array("pending refs"));

    /// <inheritdoc />
    public void CloseFd(int fd) => CallEmpty(FrameWriter.Request(NextId(), SimulatorOpcode.CloseFd).I32(fd));

    /// <inheritdoc />
    /// <remarks>The served simulator's buffers live in the server process: they cannot be handed to a third one from here.</remarks>
    public Microsoft.Win32.SafeHandles.SafeFileHandle ShareDmaBuf(int fd) =>
        throw new GntdevException("share", Errno.EOPNOTSUPP, "a remote simulator's dma-bufs cannot be shared with another process");

    /// <inheritdoc />
    /// <remarks>The served simulator knows only its own buffers: a descriptor of this process is not one of them.</remarks>
    public int AdoptDmaBuf(System.Runtime.InteropServices.SafeHandle descriptor) =>
        throw new GntdevException("adopt", Errno.EOPNOTSUPP, "a remote simulator cannot import a descriptor of this process");

    /// <inheritdoc />
    public int DuplicateFd(int fd) =>
        Decode(Call(FrameWriter.Request(NextId(), SimulatorOpcode.DuplicateFd).I32(fd)), SimulatorOpcode.DuplicateFd, (ref FrameReader r) => r.I32("fd"));

    /// <inheritdoc />
    public void ReplaceWithPlaceholder(int fd) => CallEmpty(FrameWriter.Request(NextId(), SimulatorOpcode.ReplaceWithPlaceholder).I32(fd));

    /// <summary>
    /// The simulated device <paramref name="deviceName"/> (a display, a camera) attaches to the dma-buf
    /// <paramref name="fd"/> of this connection's process. The attachment belongs to the device: it
    /// outlives this connection until <see cref="DeviceDetach"/> (from any connection) or the server's owner detaches it.
    /// </summary>
    /// <returns>The attachment id.</returns>
    public ulong DeviceAttach(string deviceName, int fd)
    {
        var response = Call(FrameWriter.Request(NextId(), SimulatorOpcode.DeviceAttach).Str(CheckDeviceName(deviceName)).I32(fd));
        return Decode(response, SimulatorOpcode.DeviceAttach, (ref FrameReader r) => r.U64("attachment id"));
    }

    /// <summary>Detaches the device attachment <paramref name="attachmentId"/>; EINVAL if unknown or already detached.</summary>
    public void DeviceDetach(ulong attachmentId) => CallEmpty(FrameWriter.Request(NextId(), SimulatorOpcode.DeviceDetach).U64(attachmentId));

    /// <summary>The simulated device <paramref name="deviceName"/> allocates a <paramref name="pages"/>-page buffer; its fd is installed in this connection's process.</summary>
    /// <returns>The buffer's fd in the simulated process.</returns>
    public int DeviceAllocateBuffer(string deviceName, int pages)
    {
        var response = Call(FrameWriter.Request(NextId(), SimulatorOpcode.DeviceAllocateBuffer).Str(CheckDeviceName(deviceName)).I32(pages));
        return Decode(response, SimulatorOpcode.DeviceAllocateBuffer, (ref FrameReader r) => r.I32("fd"));
    }

    /// <summary>The served simulator's ledger.</summary>
    public SimulatorLedger Ledger()
    {
        var response = Call(FrameWriter.Request(NextId(), SimulatorOpcode.Ledger));
        return Decode(response, SimulatorOpcode.Ledger, (ref FrameReader r) => new SimulatorLedger(
            Maps: r.I32("Maps"),
            MappedGrants: r.I32("MappedGrants"),
            GrantedRefs: r.I32("GrantedRefs"),
            DmaBufs: r.I32("DmaBufs"),
            Attachments: r.I32("Attachments"),
            OpenFds: r.I32("OpenFds"),
            Exports: r.I32("Exports"),
            Imports: r.I32("Imports"),
            ReservationPages: r.I64("ReservationPages"),
            DeferredRefs: r.I32("DeferredRefs"),
            OldestDeferredTicks: r.I64("OldestDeferredTicks"),
            ReservationByDomain: r.Str("ReservationByDomain")));
    }

    /// <summary>
    /// Ends the connection: the server exits the simulated process (maps torn down, fds closed, imports
    /// released with the file, exports kept while a device holds them). Local mappings are unmapped.
    /// </summary>
    public void Dispose()
    {
        lock (_gate)
        {
            if (_disposed) return;
            _disposed = true;
        }
        // Half-close: the server sees end of stream, tears the process down, then closes its end,
        // which ends our reader. Waiting for that makes Dispose as synchronous as close(2).
        UnixSocketInterop.Shutdown(_fd, writeOnly: true);
        if (!_reader.Join(DisposeTimeout))
        {
            UnixSocketInterop.Shutdown(_fd);
            _reader.Join();
        }
        UnixSocketInterop.Close(_fd);
        List<LocalMap> maps;
        lock (_gate)
        {
            maps = [.. _maps.Values];
            _maps.Clear();
        }
        foreach (var map in maps) map.Dispose();
    }

    private uint NextId()
    {
        // Id 0 is reserved for connection-level errors.
        uint id;
        do id = unchecked((uint)Interlocked.Increment(ref _nextId));
        while (id == 0);
        return id;
    }

    private void CallEmpty(FrameWriter request)
    {
        var response = Call(request);
        Decode(response, request.Opcode, (ref FrameReader r) => 0);
    }

    private delegate T PayloadDecoder<T>(ref FrameReader reader);

    /// <summary>Decodes a success payload; a malformed one means the peer does not speak this protocol.</summary>
    private T Decode<T>(ResponseFrame response, SimulatorOpcode opcode, PayloadDecoder<T> decode)
    {
        CloseAll(response.Fds);
        try
        {
            var r = response.Payload();
            T value = decode(ref r);
            r.End($"{opcode} response");
            return value;
        }
        catch (ProtocolException e)
        {
            throw Lost(opcode, $"malformed response: {e.Message}");
        }
    }

    /// <summary>Sends one request and blocks until its response; a failure response is thrown.</summary>
    private ResponseFrame Call(FrameWriter request)
    {
        var opcode = request.Opcode;
        uint id = request.RequestId;
        ReadOnlyMemory<byte> frame;
        try
        {
            frame = request.Complete();
        }
        catch (ProtocolException e)
        {
            throw new GntdevException(SimulatorProtocol.OperationName(opcode), Errno.EINVAL, e.Message);
        }

        var pending = new TaskCompletionSource<ResponseFrame>(TaskCreationOptions.RunContinuationsAsynchronously);
        lock (_gate)
        {
            if (_lostReason is not null || _disposed) throw Lost(opcode, _lostReason ?? "the device is disposed");
            _pending.Add(id, pending);
        }
        try
        {
            lock (_writeLock) UnixSocketInterop.Send(_fd, frame.Span, []);
        }
        catch (UnixSocketException e)
        {
            lock (_gate) _pending.Remove(id);
            throw Lost(opcode, e.Message);
        }

        var response = pending.Task.GetAwaiter().GetResult();
        if (response.Errno == Errno.None) return response;
        CloseAll(response.Fds);
        throw new GntdevException(response.Operation, response.Errno, response.Detail, response.GrantStatus, response.FailedPage);
    }

    private void ReadLoop()
    {
        string reason = "the simulator closed the connection";
        var fds = new List<int>();
        try
        {
            var prefix = new byte[SimulatorProtocol.LengthPrefixSize];
            while (UnixSocketInterop.ReceiveExactly(_fd, prefix, fds))
            {
                uint length = BinaryPrimitives.ReadUInt32LittleEndian(prefix);
                if (length < SimulatorProtocol.ResponseFixedLength + 4 || length > SimulatorProtocol.MaxFrameLength)
                {
                    reason = $"the simulator sent a frame of impossible length {length}";
                    break;
                }
                var body = new byte[length];
                if (!UnixSocketInterop.ReceiveExactly(_fd, body, fds))
                {
                    reason = "the simulator closed the connection inside a frame";
                    break;
                }
                var response = ResponseFrame.Parse(body, fds);
                fds = [];
                if (response.Id == 0)
                {
                    // A connection-level error: the server hangs up next; keep its reason for the callers.
                    CloseAll(response.Fds);
                    reason = $"the simulator refused the connection's framing: {response.Detail}";
                    continue;
                }
                TaskCompletionSource<ResponseFrame>? pending;
                lock (_gate) _pending.Remove(response.Id, out pending);
                if (pending is null) CloseAll(response.Fds);
                else pending.SetResult(response);
            }
        }
        catch (UnixSocketException e)
        {
            reason = $"the connection to the simulator failed: {e.Message}";
        }
        catch (ProtocolException e)
        {
            reason = $"the simulator sent a malformed response: {e.Message}";
        }
        finally
        {
            CloseAll(fds);
            List<TaskCompletionSource<ResponseFrame>> orphans;
            lock (_gate)
            {
                _lostReason ??= reason;
                orphans = [.. _pending.Values];
                _pending.Clear();
            }
            foreach (var orphan in orphans) orphan.SetException(Lost(SimulatorOpcode.None, reason));
        }
    }

    private GntdevException Lost(SimulatorOpcode opcode, string reason) =>
        new(SimulatorProtocol.OperationName(opcode), Errno.EIO, $"simulator at {SocketPath}: {reason}");

    /// <summary>Best-effort undo of a server-side map whose local half could not be made.</summary>
    private void UnmapOnServer(ulong index)
    {
        try
        {
            Call(FrameWriter.Request(NextId(), SimulatorOpcode.UnmapGrantRefs).U64(index));
        }
        catch (GntdevException)
        {
            // The connection is gone or the map with it; the process exit unmaps it anyway.
        }
    }

    private void UnmapOnServer(ResponseFrame response)
    {
        var r = response.Payload();
        try
        {
            UnmapOnServer(r.U64("index"));
        }
        catch (ProtocolException)
        {
            // No index to undo: nothing the server could have mapped for us is identifiable.
        }
    }

    private static string CheckDeviceName(string deviceName)
    {
        ArgumentException.ThrowIfNullOrEmpty(deviceName);
        if (System.Text.Encoding.UTF8.GetByteCount(deviceName) > SimulatorProtocol.MaxDeviceNameBytes)
            throw new ArgumentException($"device names are at most {SimulatorProtocol.MaxDeviceNameBytes} UTF-8 bytes", nameof(deviceName));
        return deviceName;
    }

    private static void CloseAll(List<int> fds)
    {
        foreach (var fd in fds) UnixSocketInterop.Close(fd);
        fds.Clear();
    }

    /// <summary>The local half of a map: the shared mapping of the domain's memfd, and the memfd.</summary>
    private sealed class LocalMap(MappedRegion region, int memfd) : IDisposable
    {
        public void Dispose()
        {
            region.Dispose();
            UnixSocketInterop.Close(memfd);
        }
    }

    /// <summary>Pages of a remote grant map: slices of the mapped domain memory, by frame.</summary>
    private sealed class RemotePageView(MappedRegion region, uint[] frames, uint firstFrame, bool readOnly) : PageView(readOnly)
    {
        public override int PageCount => frames.Length;

        protected override Span<byte> Bytes(int index)
        {
            ArgumentOutOfRangeException.ThrowIfNegative(index);
            ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual(index, frames.Length);
            return region.Slice((long)(frames[index] - firstFrame) * PageSize, PageSize);
        }
    }
}
