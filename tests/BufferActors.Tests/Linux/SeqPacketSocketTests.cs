using BufferActors.Native;
using BufferActors.Native.Linux;
using Microsoft.Win32.SafeHandles;

namespace BufferActors.Tests.Linux;

/// <summary>
/// The daemon's transport on a real kernel socket: datagrams keep their boundaries and their descriptors, what does
/// not fit is refused with nothing left open, the socket file gets its mode, and the peer is who connected.
/// </summary>
[System.Runtime.Versioning.SupportedOSPlatform("linux")]
public sealed class SeqPacketSocketTests : IDisposable
{
    private readonly string _folder = Directory.CreateTempSubdirectory("ba-seqpacket-").FullName;

    public void Dispose() => Directory.Delete(_folder, recursive: true);

    /// <summary>This process's descriptors of <paramref name="file"/>.</summary>
    private static int DescriptorsOf(string file) => Directory.GetFiles("/proc/self/fd").Count(fd =>
    {
        try
        {
            return new FileInfo(fd).LinkTarget == file;
        }
        catch (IOException)
        {
            return false; // closed while listed
        }
    });

    [Fact]
    public void DatagramsKeepTheirBoundariesAndTheirDescriptors()
    {
        var (a, b) = SeqPacketSocket.Pair();
        using (a)
        using (b)
        {
            string file = Path.Combine(_folder, "payload");
            File.WriteAllText(file, "carried");
            using (var passed = File.OpenHandle(file))
            {
                Assert.True(a.Send([1, 2, 3], [passed]));
            }
            Assert.True(a.Send([4, 5], []));

            var buffer = new byte[64];
            var fds = new List<SafeFileHandle>();
            Assert.Equal(3, b.Receive(buffer, fds));
            Assert.Equal([1, 2, 3], buffer[..3]);
            using (var received = Assert.Single(fds))
            {
                // Our own reference to the same open file: it outlives the sender's.
                var bytes = new byte[7];
                Assert.Equal(7, RandomAccess.Read(received, bytes, 0));
                Assert.Equal("carried", System.Text.Encoding.ASCII.GetString(bytes));
            }
            fds.Clear();
            Assert.Equal(2, b.Receive(buffer, fds));
            Assert.Equal([4, 5], buffer[..2]);
            Assert.Empty(fds);
        }
    }

    [Fact]
    public void ADatagramLargerThanTheBuffer_IsRefused_AndItsDescriptorIsClosed()
    {
        var (a, b) = SeqPacketSocket.Pair();
        using (a)
        using (b)
        {
            string file = Path.Combine(_folder, "x");
            File.WriteAllText(file, "x");
            using (var passed = File.OpenHandle(file))
            {
                a.Send(new byte[100], [passed]);
                Assert.Equal(1, DescriptorsOf(file));
            }
            Assert.Equal(0, DescriptorsOf(file)); // the datagram in flight holds the file, but no descriptor of ours
            var fds = new List<SafeFileHandle>();
            var e = Assert.Throws<UnixSocketException>(() => b.Receive(new byte[10], fds));
            Assert.Equal(Errno.EMSGSIZE, e.Errno);
            Assert.Empty(fds);
            // Counted by what they name, not in total: other tests open and close descriptors meanwhile.
            Assert.True(DescriptorsOf(file) == 0, "the descriptor that came with the refused datagram is closed");

            // The connection goes on with the next datagram.
            a.Send([7], []);
            Assert.Equal(1, b.Receive(new byte[10], fds));
        }
    }

    [Fact]
    public async Task EndOfStreamIsMinusOne_AndShutdownWakesABlockedReceive()
    {
        var (a, b) = SeqPacketSocket.Pair();
        using (b)
        {
            a.Dispose();
            Assert.Equal(-1, b.Receive(new byte[16], []));
        }

        var (c, d) = SeqPacketSocket.Pair();
        using (c)
        using (d)
        {
            var blocked = Task.Run(() => d.Receive(new byte[16], []));
            d.Shutdown();
            Assert.Equal(-1, await blocked.WaitAsync(TimeSpan.FromSeconds(5)));
        }
    }

    [Fact]
    public void AListeningSocketHasItsMode_AndAConnectionKnowsItsPeer()
    {
        string path = Path.Combine(_folder, "serve.sock");
        using var listener = SeqPacketSocket.Listen(path, backlog: 4, mode: Convert.ToInt32("660", 8));
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead | UnixFileMode.GroupWrite, File.GetUnixFileMode(path));

        using var client = SeqPacketSocket.Connect(path);
        using var accepted = listener.Accept(TimeSpan.FromSeconds(5));
        Assert.NotNull(accepted);
        Assert.Equal(Environment.ProcessId, accepted.Peer.Pid);
        Assert.Equal(Environment.ProcessId, client.Peer.Pid);
        Assert.Null(listener.Accept(TimeSpan.FromMilliseconds(10)));

        client.Send([9, 9], []);
        Assert.Equal(2, accepted.Receive(new byte[8], []));
    }

    [Fact]
    public void APathWithSomethingElseIsNeverTaken()
    {
        string path = Path.Combine(_folder, "taken");
        File.WriteAllText(path, "mine");
        var e = Assert.Throws<UnixSocketException>(() => SeqPacketSocket.Listen(path, 4, Convert.ToInt32("660", 8)));
        Assert.Contains("is not a socket", e.Detail);
        Assert.Equal("mine", File.ReadAllText(path));
    }

    [Fact]
    public void ASendToAFullQueueWithoutWaitingSendsNothing()
    {
        var (a, b) = SeqPacketSocket.Pair();
        using (a)
        using (b)
        {
            int sent = 0;
            while (a.Send(new byte[4096], [], dontWait: true)) sent++;
            Assert.True(sent > 0);
            var buffer = new byte[4096];
            for (int i = 0; i < sent; i++) Assert.Equal(4096, b.Receive(buffer, []));
        }
    }
}
