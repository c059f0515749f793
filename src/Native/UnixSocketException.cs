namespace BufferActors.Native;

/// <summary>
/// A Unix-socket call failed (socket, bind, connect, accept, sendmsg, recvmsg): the connection, not a grant device,
/// is what failed. The peer closing the connection mid-frame is <see cref="Errno"/> EPIPE.
/// </summary>
public sealed class UnixSocketException(string operation, Errno errno, string detail) : NativeCallException(operation, errno, detail);
