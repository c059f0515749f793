using System.Diagnostics;
using BufferActors.Campaigns;

namespace BufferActors.Tests;

/// <summary>
/// Starts a program of this repository as a child process with the same dotnet host: the product CLI
/// (<c>bufferactors.dll</c>) or the test rig (<c>bufferactors-campaigns.dll</c>), both copied next to the test assembly.
/// </summary>
internal static class HostProcess
{
    /// <summary>The product CLI, e.g. <c>demo</c> or <c>simulator serve</c>.</summary>
    public static Process Start(bool redirectInput, params string[] args) => Start(HostChildProcess.ProductAssemblyPath, redirectInput, args);

    /// <summary>Runs the product CLI to its end: its exit code, and its standard output followed by its standard error.</summary>
    public static async Task<(int Exit, string Output)> RunAsync(params string[] args)
    {
        using var process = Start(redirectInput: false, args);
        var output = process.StandardOutput.ReadToEndAsync();
        var errors = process.StandardError.ReadToEndAsync();
        await process.WaitForExitAsync();
        return (process.ExitCode, await output + await errors);
    }

    /// <summary>The rig, e.g. <c>crash-target</c>.</summary>
    public static Process StartCampaigns(bool redirectInput, params string[] args) => Start(HostChildProcess.CampaignsAssemblyPath, redirectInput, args);

    private static Process Start(string assembly, bool redirectInput, string[] args)
    {
        Assert.True(File.Exists(assembly), $"{assembly} is missing: the test project must reference the project that builds it");
        return HostChildProcess.Start(assembly, redirectInput, args);
    }
}
