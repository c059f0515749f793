using System.Diagnostics;

namespace BufferActors.Campaigns;

/// <summary>
/// A program of this repository (an assembly such as <c>bufferactors.dll</c> or this rig's own) started as a
/// child process on the same dotnet host, with its output redirected: the crash campaign's hosts, and the
/// tests' kill-and-restart children.
/// </summary>
internal static class HostChildProcess
{
    /// <summary>This rig's assembly (<c>bufferactors-campaigns.dll</c>): <c>crash-workload</c> and <c>crash-target</c>.</summary>
    public static string CampaignsAssemblyPath => typeof(HostChildProcess).Assembly.Location;

    /// <summary>The product's CLI assembly (<c>bufferactors.dll</c>).</summary>
    public static string ProductAssemblyPath => typeof(Host.Simulate.SimulateCommand).Assembly.Location;

    /// <summary>The dotnet host running this process when it was started by one (<c>DOTNET_HOST_PATH</c>), else <c>dotnet</c>.</summary>
    public static string DotnetHost => Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") is { Length: > 0 } host ? host : "dotnet";

    /// <summary>Starts <c>dotnet ASSEMBLY args...</c> with stdout and stderr (and stdin if asked) redirected.</summary>
    public static Process Start(string assemblyPath, bool redirectInput, params string[] args)
    {
        string dotnet = DotnetHost;
        var info = new ProcessStartInfo(dotnet)
        {
            RedirectStandardInput = redirectInput,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        info.ArgumentList.Add(assemblyPath);
        foreach (var arg in args) info.ArgumentList.Add(arg);
        return Process.Start(info) ?? throw new InvalidOperationException($"cannot start {dotnet} {assemblyPath}");
    }
}
