using BufferActors.Host.Daemon;

namespace BufferActors.Tests.Daemon;

/// <summary>
/// serve's configuration: a JSON file, then the environment, then the options, each overriding the one before; an
/// unknown key, a file that is missing or no JSON, and values out of range are refused with the key named; on the
/// linux device the capability check refuses to start with its evidence.
/// </summary>
[System.Runtime.Versioning.SupportedOSPlatform("linux")]
public sealed class ServeConfigurationTests : IDisposable
{
    private readonly string _folder = Directory.CreateTempSubdirectory("ba-serve-config-").FullName;

    public void Dispose() => Directory.Delete(_folder, recursive: true);

    private string File(string json)
    {
        string path = Path.Combine(_folder, $"{Guid.NewGuid():N}.json");
        System.IO.File.WriteAllText(path, json);
        return path;
    }

    [Fact]
    public void TheFileIsOverriddenByTheEnvironment_WhichIsOverriddenByTheOptions()
    {
        string file = File("""{ "Serve": { "Socket": "/run/a.sock", "Pages": 2, "Frontends": 3, "Allow": ["1000:1,2"], "MaxPagesPerUid": 77 } }""");
        Environment.SetEnvironmentVariable("BUFFERACTORS_Serve__Pages", "5");
        Environment.SetEnvironmentVariable("BUFFERACTORS_Serve__Frontends", "4");
        try
        {
            var c = ServeCommand.Configure(file, [new("Serve:Frontends", "6")]);
            Assert.Equal(("/run/a.sock", 5, 6), (c.Socket, c.Pages, c.Frontends));
            Assert.Empty(c.Problems());
            var policy = c.Policy();
            Assert.Equal(77, policy.MaxPagesPerUid);
            Assert.True(policy.MayActFor(1000, new Native.DomainId(2)));
            Assert.False(policy.MayActFor(1000, new Native.DomainId(3)));
        }
        finally
        {
            Environment.SetEnvironmentVariable("BUFFERACTORS_Serve__Pages", null);
            Environment.SetEnvironmentVariable("BUFFERACTORS_Serve__Frontends", null);
        }
    }

    [Fact]
    public void WhatCannotRunIsRefused_NamingTheKey()
    {
        Assert.Throws<FileNotFoundException>(() => ServeCommand.Configure(Path.Combine(_folder, "absent.json"), []));
        Assert.Throws<InvalidDataException>(() => ServeCommand.Configure(File("""{ "Serve": """), []));
        Assert.Contains("Sockt", Assert.Throws<InvalidOperationException>(() => ServeCommand.Configure(File("""{ "Serve": { "Sockt": "x" } }"""), [])).Message, StringComparison.Ordinal);
        Assert.Throws<InvalidOperationException>(() => ServeCommand.Configure(null, [new("Serve:Pages", "many")]));

        var problems = ServeCommand.Configure(null, [new("Serve:Mode", "999"), new("Serve:Pages", "0"), new("Serve:Journal", "j.db"), new("Serve:Postgres", "Host=x"),
            new("Serve:JournalDurability", "sometimes")]).Problems();
        Assert.Contains(problems, p => p.StartsWith("JournalDurability", StringComparison.Ordinal));
        Assert.Contains(problems, p => p.StartsWith("Socket", StringComparison.Ordinal));
        Assert.Contains(problems, p => p.StartsWith("Mode", StringComparison.Ordinal));
        Assert.Contains(problems, p => p.StartsWith("Pages", StringComparison.Ordinal));
        Assert.Contains(problems, p => p.StartsWith("Journal", StringComparison.Ordinal));
        Assert.Throws<FormatException>(() => ServeCommand.Configure(null, [new("Serve:Socket", "/s"), new("Serve:Allow:0", "1000:32752")]).Policy());
        foreach (var listen in new[] { "9464", "127.0.0.1:", "127.0.0.1:0", "127.0.0.1:70000", "http://x:1" })
        {
            Assert.Contains(ServeCommand.Configure(null, [new("Serve:Socket", "/s"), new("Serve:MetricsListen", listen)]).Problems(),
                p => p.StartsWith("MetricsListen (--metrics-listen)", StringComparison.Ordinal));
        }
        Assert.Empty(ServeCommand.Configure(null, [new("Serve:Socket", "/s"), new("Serve:MetricsListen", "127.0.0.1:9464")]).Problems());
        Assert.Contains(ServeCommand.Configure(null, [new("Serve:Socket", "/s"), new("Serve:Group", "no-such-group-here")]).Problems(),
            p => p.StartsWith("Group (--group) no-such-group-here: no such group", StringComparison.Ordinal));
    }

    [Fact]
    public void TheSocketsGroupIsANameOrAGid()
    {
        Assert.Equal(0, ServeCommand.Configure(null, [new("Serve:Socket", "/s"), new("Serve:Group", "root")]).GroupId);
        Assert.Equal(65534, ServeCommand.Configure(null, [new("Serve:Socket", "/s"), new("Serve:Group", "65534")]).GroupId);
        Assert.Null(ServeCommand.Configure(null, [new("Serve:Socket", "/s")]).GroupId);
    }

    [Fact]
    public async Task OnTheLinuxDevice_ADeviceThatCannotServeIsReported_AndNothingStarts()
    {
        string socket = Path.Combine(_folder, "s.sock");
        using var serve = HostProcess.Start(redirectInput: false, "serve", "--socket", socket, "--device", "linux", "--device-path", "/dev/null");
        string errors = await serve.StandardError.ReadToEndAsync();
        await serve.WaitForExitAsync();
        Assert.Equal(2, serve.ExitCode);
        Assert.Contains("[ok] the grant device (/dev/null): opens read-write", errors, StringComparison.Ordinal);
        Assert.Contains("[FAILED] gntdev has the dma-buf ioctls: DMABUF_EXP_WAIT_RELEASED of a number no export has: ENOTTY", errors, StringComparison.Ordinal);
        Assert.False(System.IO.File.Exists(socket));
    }
}
