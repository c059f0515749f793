using System.Diagnostics;

namespace BufferActors.Tests;

/// <summary>Starts the Host (bufferactors.dll, copied next to the test assembly) as a child process with the same dotnet host.</summary>
internal static class HostProcess
{
    public static Process Start(bool redirectInput, params string[] args)
    {
        string dll = Path.Combine(AppContext.BaseDirectory, "bufferactors.dll");
        Assert.True(File.Exists(dll), $"{dll} is missing: the test project must reference src/Host");
        string dotnet = Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") is { Length: > 0 } host ? host : "dotnet";
        var info = new ProcessStartInfo(dotnet)
        {
            RedirectStandardInput = redirectInput,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        info.ArgumentList.Add(dll);
        foreach (var arg in args) info.ArgumentList.Add(arg);
        return Process.Start(info) ?? throw new InvalidOperationException($"cannot start {dotnet} {dll}");
    }
}
