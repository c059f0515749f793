using System.Buffers.Binary;
using System.Net.Sockets;
using BufferActors.Native;
using BufferActors.Native.Simulation.Remote;
using BufferActors.Tests.Remote;

namespace BufferActors.Tests.Hostile;

/// <summary>
/// A client of <see cref="SimulatorServer"/> that writes frames by hand, through a managed socket, to
/// send what <see cref="RemoteGrantDevice"/> never would. Every receive is bounded (5 s).
/// </summary>
internal sealed class HostileSocketClient : IDisposable
{
    private readonly Socket _socket;
    private uint _nextId = 1;

    public HostileSocketClient(string path)
    {
        _socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified) { ReceiveTimeout = 5000, SendTimeout = 5000 };
        _socket.Connect(new UnixDomainSocketEndPoint(path));
    }

    /// <summary>A fresh request id (never 0).</summary>
    public uint NextId() => _nextId++;

    public void Hello() =>
        Assert.Equal(Errno.None, Call(FrameWriter.Request(NextId(), SimulatorOpcode.Hello).U16(SimulatorProtocol.Version)).Errno);

    public ResponseFrame Call(FrameWriter request)
    {
        _socket.Send(request.Complete().ToArray());
        var prefix = new byte[4];
        Assert.True(ReadExactly(prefix), "the server hung up");
        var body = new byte[BinaryPrimitives.ReadUInt32LittleEndian(prefix)];
        Assert.True(ReadExactly(body), "the server hung up inside a response");
        var response = ResponseFrame.Parse(body, []);
        Assert.Equal(request.RequestId, response.Id);
        return response;
    }

    private bool ReadExactly(byte[] buffer) => SocketReads.ReadExactly(_socket, buffer);

    public void Dispose() => _socket.Dispose();
}
