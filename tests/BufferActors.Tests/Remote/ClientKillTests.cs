using System.Diagnostics;
using BufferActors.Native;

namespace BufferActors.Tests.Remote;

/// <summary>
/// A real backend process SIGKILLed while it holds an export attached by a device, a grant map and an
/// import: the server sees the connection end and exits its simulated process as the kernel would.
/// </summary>
public sealed class ClientKillTests : RemoteSimulatorTest
{
    [Fact]
    public void KilledClientLosesItsFdsAndMaps_TheDeviceKeepsTheExport_AndTheImportGoesWhenTheDeviceDetaches()
    {
        var exported = Share(2);
        var mapped = Share(1);

        using var child = StartHost("simulator", "client-hold", "--socket", SocketPath, "--domain", "1",
            "--refs", string.Join(",", exported), "--device", "display",
            "--map-refs", string.Join(",", mapped), "--import-pages", "2");
        try
        {
            WaitForReady(child);
            var held = Sim.Ledger();
            Assert.Equal(1, held.Exports);
            Assert.Equal(1, held.Imports);
            Assert.True(Frontend.IsInUse(mapped[0]));

            child.Kill(); // SIGKILL: no chance to clean up
            Assert.True(child.WaitForExit(Bound));
        }
        finally
        {
            if (!child.HasExited) child.Kill();
        }
        Assert.True(Server.WaitForClosedConnections(1, Bound), "the server never saw the killed client's connection end");

        var ledger = Sim.Ledger();
        Assert.Equal(Baseline.OpenFds, ledger.OpenFds);         // every fd of the process closed
        Assert.False(Frontend.IsInUse(mapped[0]));               // its map went with its address space
        Assert.True(Frontend.IsInUse(exported[0]));              // the display still holds the export
        Assert.Equal(1, ledger.Exports);
        Assert.Equal(1, ledger.Imports);                         // the export holds the gntdev file, so the import stays

        var attachment = Assert.Single(Server.DeviceAttachments);
        Assert.Equal("display", attachment.Device);
        Server.DetachDevice(attachment.Id);                      // the display lets go: export released, file released, import released
        ledger = Sim.Ledger();
        Assert.Equal(0, ledger.Exports);
        Assert.Equal(0, ledger.Imports);
        Assert.False(Frontend.IsInUse(exported[0]));
        AssertLedgerAtBaseline();
    }

    /// <summary>Starts the Host (bufferactors.dll, copied next to this test assembly) with the same dotnet host.</summary>
    private static Process StartHost(params string[] args) => HostProcess.Start(redirectInput: false, args);

    /// <summary>Reads the child's output until its "ready" line (bounded).</summary>
    private static void WaitForReady(Process child)
    {
        var output = new List<string>();
        var reading = Task.Run(() =>
        {
            while (child.StandardOutput.ReadLine() is { } line)
            {
                output.Add(line);
                if (line == "ready") return true;
            }
            return false;
        });
        bool ready = reading.Wait(TimeSpan.FromSeconds(15)) && reading.Result;
        if (ready) return;
        string stderr = child.WaitForExit(1000) ? child.StandardError.ReadToEnd() : "(still running)";
        Assert.Fail($"bufferactors never printed 'ready' (is `simulator` registered in Program.cs's root command?).\n" +
            $"stdout:\n{string.Join("\n", output)}\nstderr:\n{stderr}");
    }
}
