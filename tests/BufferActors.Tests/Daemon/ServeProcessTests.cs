using System.Diagnostics;
using BufferActors.Host.Daemon.Protocol;

namespace BufferActors.Tests.Daemon;

/// <summary>
/// <c>bufferactors serve --device simulator</c> as a process: it prints its frontends' refs and a ready line once the
/// socket is bound, serves a client, and SIGTERM stops it cleanly (exit 0, socket file gone).
/// </summary>
[System.Runtime.Versioning.SupportedOSPlatform("linux")]
public sealed class ServeProcessTests : IDisposable
{
    private readonly string _folder = Directory.CreateTempSubdirectory("ba-serve-proc-").FullName;

    public void Dispose() => Directory.Delete(_folder, recursive: true);

    [Fact]
    public async Task TheDaemonServesAClient_AndStopsCleanlyOnSigterm()
    {
        string socket = Path.Combine(_folder, "serve.sock");
        using var daemon = HostProcess.Start(redirectInput: false, "serve", "--socket", socket, "--device", "simulator", "--frontends", "1", "--pages", "4");
        var stderr = new System.Text.StringBuilder();
        daemon.ErrorDataReceived += (_, e) => { if (e.Data is { } line) lock (stderr) stderr.AppendLine(line); };
        daemon.BeginErrorReadLine();
        try
        {
            string? refsLine = null;
            string? line;
            while ((line = await daemon.StandardOutput.ReadLineAsync().WaitAsync(TimeSpan.FromSeconds(60))) is not null && !line.StartsWith(ServeReady, StringComparison.Ordinal))
                if (line.StartsWith("frontend 1 refs ", StringComparison.Ordinal)) refsLine = line;
            Assert.True(line is not null, $"the daemon ended before it was ready: {stderr}");
            var refs = refsLine!["frontend 1 refs ".Length..].Split(',').Select(uint.Parse).ToArray();
            Assert.Equal(4, refs.Length);

            using (var c = WireClient.Connect(socket))
            {
                Assert.Equal(WireDevice.Simulator, c.Hello().Device);
                var (reply, fd) = c.Call(new ExportRequest(1, 0, refs));
                var exported = Assert.IsType<ExportedReply>(reply);
                Assert.Equal(4u, exported.PageCount);
                c.Call(new HandleRequest(WireOpcode.Release, exported.Handle));
                fd!.Dispose();
                Assert.NotEqual(HandleReply.TimedOut, Assert.IsType<HandleReply>(c.Call(new WaitReleasedRequest(exported.Handle, 5000)).Reply).Value);
            }

            using (var kill = Process.Start("kill", ["-TERM", daemon.Id.ToString(System.Globalization.CultureInfo.InvariantCulture)])) await kill.WaitForExitAsync();
            await daemon.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(30));
            Assert.True(daemon.ExitCode == 0, $"exit {daemon.ExitCode}: {stderr}");
            Assert.False(File.Exists(socket));
        }
        finally
        {
            if (!daemon.HasExited) daemon.Kill();
        }
    }

    private const string ServeReady = "ready ";
}
