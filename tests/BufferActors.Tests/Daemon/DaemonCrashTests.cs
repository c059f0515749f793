using System.Diagnostics;
using BufferActors.Host.Daemon;
using BufferActors.Host.Daemon.Protocol;
using BufferActors.Native;

namespace BufferActors.Tests.Daemon;

/// <summary>
/// The daemon's crash campaign: <c>serve --device simulator --journal J</c> is SIGKILLed at a seeded point of a
/// seeded workload of two clients (exports held, released, waited on, one request in flight when the kill comes),
/// then started again on the same journal. The restart reclaims every lifecycle the dead process left (its device
/// instance died with it) and names their frontends, serves a client at once, holds nothing, and the journal
/// replays without an anomaly with nothing live.
/// </summary>
[System.Runtime.Versioning.SupportedOSPlatform("linux")]
public sealed class DaemonCrashTests : IDisposable
{
    private readonly string _folder = Directory.CreateTempSubdirectory("ba-daemon-crash-").FullName;

    public void Dispose() => Directory.Delete(_folder, recursive: true);

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(3)]
    [InlineData(4)]
    public async Task ADaemonKilledAtASeededPoint_RecoversOnItsJournal_WithNothingLeftLive(int seed)
    {
        var random = new Random(seed);
        string socket = Path.Combine(_folder, "s.sock"), journal = Path.Combine(_folder, "journal.db");
        string[] args = ["--frontends", "2", "--pages", "8", "--journal", journal];
        int live = 0;
        using (var daemon = await ServeProcess.StartAsync(socket, args))
        {
            var clients = new[] { DaemonClient.Connect(socket, WireCapabilities.Export), DaemonClient.Connect(socket, WireCapabilities.Export) };
            var held = new List<(DaemonClient Client, ulong Handle, Microsoft.Win32.SafeHandles.SafeFileHandle Fd)>();
            int killAt = random.Next(2, 12);
            for (int step = 0; step < killAt; step++)
            {
                var client = clients[random.Next(2)];
                ushort domid = (ushort)random.Next(1, 3);
                if (held.Count == 0 || random.Next(3) > 0)
                {
                    var refs = daemon.Frontends[domid].Skip(random.Next(0, 6)).Take(random.Next(1, 3)).ToArray();
                    var (handle, _, fd) = client.Export(domid, refs);
                    held.Add((client, handle, fd));
                }
                else
                {
                    var (owner, handle, fd) = held[random.Next(held.Count)];
                    held.RemoveAll(h => h.Handle == handle);
                    owner.Release(handle);
                    if (random.Next(2) == 0)
                    {
                        fd.Dispose();
                        Assert.True(owner.WaitReleased(handle, 5000));
                    }
                    else
                    {
                        held.Add((owner, handle, fd)); // released by the daemon, still held by the client's descriptor
                    }
                }
            }
            live = daemon.Status().Live;

            // One more request in flight, and the kill.
            var last = clients[random.Next(2)];
            var inFlight = Task.Run(() => last.Export(1, [daemon.Frontends[1][7]]));
            if (random.Next(2) == 0) await Task.Yield();
            daemon.Kill();
            try
            {
                (await inFlight).DmaBuf.Dispose(); // answered before the kill
            }
            catch (Exception e) when (e is DaemonClosedException or UnixSocketException or ProtocolViolationException)
            {
                // cut off by the kill
            }
            foreach (var (_, _, fd) in held) fd.Dispose();
            foreach (var c in clients) c.Dispose();
        }

        using (var again = await ServeProcess.StartAsync(socket, args))
        {
            var status = again.Status();
            Assert.NotNull(status.Recovery);
            Assert.True(status.Recovery!.Reclaimed >= live, $"seed {seed}: {live} live at the kill, {status.Recovery.Reclaimed} reclaimed");
            Assert.Equal(0, status.Recovery.Adopted); // the device instance died with the process
            if (status.Recovery.Reclaimed > 0) Assert.NotEmpty(status.Recovery.FrontendsToTell);
            Assert.Equal((0, 0L), (status.Live, status.Pages));

            using (var client = DaemonClient.Connect(socket, WireCapabilities.Export))
            {
                var (handle, _, fd) = client.Export(2, again.Frontends[2]);
                client.Release(handle);
                fd.Dispose();
                Assert.True(client.WaitReleased(handle, 5000));
            }
            await again.StopAsync();
            Assert.Equal(0, again.ExitCode);
        }

        using var replay = HostProcess.Start(redirectInput: false, "replay", "--journal", journal, "--json");
        string json = await replay.StandardOutput.ReadToEndAsync();
        await replay.WaitForExitAsync();
        Assert.Equal(0, replay.ExitCode);
        using var document = System.Text.Json.JsonDocument.Parse(json);
        var totals = document.RootElement.GetProperty("totals");
        Assert.True(totals.GetProperty("anomalies").GetInt32() == 0, $"seed {seed}: {document.RootElement.GetProperty("anomalies")}");
        Assert.Equal(0, totals.GetProperty("live").GetInt32());
    }
}
