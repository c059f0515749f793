using System.Diagnostics;
using System.Globalization;
using System.Text;
using BufferActors.Host.Daemon;
using BufferActors.Host.Daemon.Protocol;

namespace BufferActors.Tests.Daemon;

/// <summary>
/// <c>bufferactors serve --device simulator</c> as a child process: started, read until its ready line (with each
/// frontend's refs), asked for its status, stopped with SIGTERM; killed if a test leaves it running.
/// </summary>
[System.Runtime.Versioning.SupportedOSPlatform("linux")]
internal sealed class ServeProcess : IDisposable
{
    private readonly Process _process;
    private readonly StringBuilder _stderr = new();
    private TaskCompletionSource _logged = new(TaskCreationOptions.RunContinuationsAsynchronously);

    private ServeProcess(Process process, string socket)
    {
        _process = process;
        Socket = socket;
        process.ErrorDataReceived += (_, e) =>
        {
            if (e.Data is not { } line) return;
            TaskCompletionSource logged;
            lock (_stderr)
            {
                _stderr.AppendLine(line);
                logged = _logged;
                _logged = new(TaskCreationOptions.RunContinuationsAsynchronously);
            }
            logged.TrySetResult();
        };
        process.BeginErrorReadLine();
    }

    /// <summary>The socket the daemon serves.</summary>
    public string Socket { get; }

    /// <summary>Each simulated frontend's granted refs, by domid.</summary>
    public Dictionary<ushort, uint[]> Frontends { get; } = [];

    /// <summary>What the daemon logged so far.</summary>
    public string Log
    {
        get
        {
            lock (_stderr) return _stderr.ToString();
        }
    }

    /// <summary>Completes once the daemon logged a line containing <paramref name="text"/> (within 30 s).</summary>
    public async Task<string> LoggedAsync(string text)
    {
        var deadline = Task.Delay(TimeSpan.FromSeconds(30));
        while (true)
        {
            Task next;
            lock (_stderr)
            {
                if (_stderr.ToString().Contains(text, StringComparison.Ordinal)) return _stderr.ToString();
                next = _logged.Task;
            }
            if (await Task.WhenAny(next, deadline) == deadline) throw new TimeoutException($"the daemon never logged '{text}': {Log}");
        }
    }

    /// <summary>The process's exit code once it ended.</summary>
    public int ExitCode => _process.ExitCode;

    /// <summary>Starts the daemon on <paramref name="socket"/> and waits until it is ready.</summary>
    public static async Task<ServeProcess> StartAsync(string socket, params string[] more)
    {
        var process = HostProcess.Start(redirectInput: false, ["serve", "--socket", socket, "--device", "simulator", .. more]);
        var serve = new ServeProcess(process, socket);
        try
        {
            string? line;
            while ((line = await process.StandardOutput.ReadLineAsync().WaitAsync(TimeSpan.FromSeconds(60))) is not null && !line.StartsWith("ready ", StringComparison.Ordinal))
            {
                var words = line.Split(' ');
                if (words is ["frontend", var domid, "refs", var refs])
                    serve.Frontends[ushort.Parse(domid, CultureInfo.InvariantCulture)] = [.. refs.Split(',').Select(r => uint.Parse(r, CultureInfo.InvariantCulture))];
            }
            Assert.True(line is not null, $"the daemon ended before it was ready: {serve.Log}");
            return serve;
        }
        catch
        {
            serve.Dispose();
            throw;
        }
    }

    /// <summary>The daemon's counts, read as an operator.</summary>
    public DaemonStatus Status()
    {
        using var client = DaemonClient.Connect(Socket, WireCapabilities.DaemonStatus);
        return client.DaemonStatus();
    }

    /// <summary>
    /// The status once <paramref name="condition"/> holds. Another process's end is seen by the daemon
    /// asynchronously and nothing outside the daemon can be told, so this asks again every 50 ms, up to 30 s.
    /// </summary>
    public async Task<DaemonStatus> StatusWhenAsync(Func<DaemonStatus, bool> condition)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(30);
        while (true)
        {
            var status = Status();
            if (condition(status) || DateTime.UtcNow > deadline) return status;
            await Task.Delay(50);
        }
    }

    /// <summary>SIGKILL: no clean-up at all, as a crash.</summary>
    public void Kill()
    {
        _process.Kill();
        _process.WaitForExit();
    }

    /// <summary>SIGTERM, then waits for the exit.</summary>
    public async Task StopAsync()
    {
        using (var kill = Process.Start("kill", ["-TERM", _process.Id.ToString(CultureInfo.InvariantCulture)])) await kill.WaitForExitAsync();
        await _process.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(30));
    }

    public void Dispose()
    {
        if (!_process.HasExited) _process.Kill();
        _process.Dispose();
    }
}
