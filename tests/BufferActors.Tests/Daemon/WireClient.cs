using BufferActors.Host.Daemon.Protocol;
using BufferActors.Native.Linux;
using Microsoft.Win32.SafeHandles;

namespace BufferActors.Tests.Daemon;

/// <summary>A client of the daemon written from docs/protocol.md: frames out, frames (and their descriptors) in.</summary>
internal sealed class WireClient(SeqPacketSocket socket) : IDisposable
{
    private readonly byte[] _buffer = new byte[FrameHeader.Size + FrameHeader.MaxPayload];
    private uint _nextId;

    public static WireClient Connect(string path) => new(SeqPacketSocket.Connect(path));

    public SeqPacketSocket Socket => socket;

    /// <summary>Sends <paramref name="request"/> with a new request id; returns the id.</summary>
    public uint Send(WireMessage request, SafeFileHandle? fd = null)
    {
        uint id = ++_nextId;
        socket.Send(WireCodec.Encode(id, request), fd is null ? [] : [fd]);
        return id;
    }

    /// <summary>The next frame from the daemon, with its descriptor if it carries one (null at end of stream).</summary>
    public (FrameHeader Header, WireMessage Message, SafeFileHandle? Fd)? Next(TimeSpan? within = null)
    {
        if (!socket.WaitReadable(within ?? TimeSpan.FromSeconds(10))) throw new TimeoutException("no frame from the daemon");
        var fds = new List<SafeFileHandle>();
        int n = socket.Receive(_buffer, fds);
        if (n < 0) return null;
        var (header, message) = WireCodec.Decode(_buffer.AsSpan(0, n), fds.Count);
        return (header, message, fds.SingleOrDefault());
    }

    /// <summary>True when nothing arrives from the daemon within <paramref name="within"/>.</summary>
    public bool Quiet(TimeSpan within) => !socket.WaitReadable(within);

    /// <summary>Sends <paramref name="request"/> and returns its reply (asserting it answers this request).</summary>
    public (WireMessage Reply, SafeFileHandle? Fd) Call(WireMessage request, SafeFileHandle? fd = null)
    {
        uint id = Send(request, fd);
        var frame = Next() ?? throw new InvalidOperationException("the daemon closed the connection");
        Assert.Equal(id, frame.Header.RequestId);
        return (frame.Message, frame.Fd);
    }

    /// <summary>The handshake, wanting <paramref name="capabilities"/>.</summary>
    public HelloOk Hello(WireCapabilities capabilities = WireCapabilities.Export | WireCapabilities.Import) =>
        Assert.IsType<HelloOk>(Call(new Hello(1, 1, capabilities)).Reply);

    public void Dispose() => socket.Dispose();
}
