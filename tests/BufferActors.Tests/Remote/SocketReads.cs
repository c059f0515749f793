using System.Net.Sockets;

namespace BufferActors.Tests.Remote;

/// <summary>Blocking reads for the tests' raw protocol clients.</summary>
internal static class SocketReads
{
    /// <summary>Fills <paramref name="buffer"/>; false if the peer closed first.</summary>
    public static bool ReadExactly(Socket socket, byte[] buffer)
    {
        int read = 0;
        while (read < buffer.Length)
        {
            int n = socket.Receive(buffer, read, buffer.Length - read, SocketFlags.None);
            if (n == 0) return false;
            read += n;
        }
        return true;
    }
}
