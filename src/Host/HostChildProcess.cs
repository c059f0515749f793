using System.Diagnostics;

namespace BufferActors.Host;

/// <summary>
/// This program (bufferactors.dll) started again as a child process on the same dotnet host, with its
/// output redirected: the crash campaign's hosts, and the tests' kill-and-restart children.
/// </summary>
internal static class HostChildProcess
{
    /// <summary>The program's assembly, which the child runs.</summary>
    public static string AssemblyPath => typeof(HostChildProcess).Assembly.Location;

    /// <summary>The dotnet host running this process when it was started by one (<c>DOTNET_HOST_PATH</c>), else <c>dotnet</c>.</summary>
    public static string DotnetHost => Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") is { Length: > 0 } host ? host : "dotnet";

    /// <summary>Starts <c>dotnet bufferactors.dll args...</c> with stdout and stderr (and stdin if asked) redirected.</summary>
    public static Process Start(bool redirectInput, params string[] args)
    {
        string dotnet = DotnetHost;
        var info = new ProcessStartInfo(dotnet)
        {
            RedirectStandardInput = redirectInput,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        info.ArgumentList.Add(AssemblyPath);
        foreach (var arg in args) info.ArgumentList.Add(arg);
        return Process.Start(info) ?? throw new InvalidOperationException($"cannot start {dotnet} {AssemblyPath}");
    }
}
