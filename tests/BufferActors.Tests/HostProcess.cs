using System.Diagnostics;
using BufferActors.Host;

namespace BufferActors.Tests;

/// <summary>Starts the Host (bufferactors.dll, copied next to the test assembly) as a child process with the same dotnet host.</summary>
internal static class HostProcess
{
    public static Process Start(bool redirectInput, params string[] args)
    {
        Assert.True(File.Exists(HostChildProcess.AssemblyPath), $"{HostChildProcess.AssemblyPath} is missing: the test project must reference src/Host");
        return HostChildProcess.Start(redirectInput, args);
    }
}
