using BufferActors.Native;
using BufferActors.Native.Linux;

namespace BufferActors.Host.Daemon;

/// <summary>
/// What <c>serve --device linux</c> checks before it starts, each with its evidence: the gntdev node opens read-write
/// for this process, and its driver answers the dma-buf ioctls (a kernel without <c>CONFIG_XEN_GNTDEV_DMABUF</c>
/// answers ENOTTY, which makes every export and import fail later).
/// </summary>
public static class GntdevCheck
{
    /// <summary>One check: what, whether it holds, and what was seen.</summary>
    public sealed record Finding(string Check, bool Holds, string Evidence);

    /// <summary>Runs the checks against the node at <paramref name="path"/>; stops at the first that fails.</summary>
    public static IReadOnlyList<Finding> Run(string path)
    {
        var findings = new List<Finding>();
        LinuxGrantDevice device;
        try
        {
            device = LinuxGrantDevice.Open(path);
        }
        catch (GrantDeviceUnavailableException e)
        {
            findings.Add(new("the grant device opens read-write", false, $"{path}: {e.Message} (uid {LinuxProcess.Uid()})"));
            return findings;
        }
        using (device)
        {
            findings.Add(new("the grant device opens read-write", true, $"{path} (uid {LinuxProcess.Uid()})"));
            try
            {
                // A wait on a number no export has: a gntdev with dma-buf support answers "not found".
                var answer = device.WaitReleased(int.MaxValue, 0);
                findings.Add(new("the driver answers the dma-buf ioctls", true, $"EXP_WAIT_RELEASED of an unknown fd: {answer}"));
            }
            catch (GntdevException e)
            {
                findings.Add(new("the driver answers the dma-buf ioctls", false, $"EXP_WAIT_RELEASED: {e.Message}"));
            }
        }
        return findings;
    }
}
