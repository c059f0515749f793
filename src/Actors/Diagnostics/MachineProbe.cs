using System.Globalization;
using System.Runtime.InteropServices;
using BufferActors.Native;
using BufferActors.Native.Linux;

namespace BufferActors.Actors.Diagnostics;

/// <summary>
/// Asks this machine <c>doctor</c>'s questions: it reads files, opens the device nodes read-write (and closes them),
/// and asks the gntdev two ioctls that change nothing. In dom0, where it can grant a page to itself, it makes one
/// write-combining export to see whether the balloon moves (then releases it and the grant).
/// </summary>
public static class MachineProbe
{
    private const string Balloon = "/sys/devices/system/xen_memory/xen_memory0/info/current_kb";

    /// <summary>
    /// The answers, for the grant device at <paramref name="gntdev"/> and, when named, the journal file
    /// <paramref name="journal"/>; without <paramref name="askDevice"/> (a mode that does not use it) the device is
    /// not asked its ioctls and makes no export.
    /// </summary>
    public static MachineAnswers Probe(string gntdev, string? journal, bool askDevice = true)
    {
        string? capabilities = Read("/proc/xen/capabilities");
        string? wait = null, export = null;
        DmaBackingAnswer? dma = null;
        var gntdevNode = Node(gntdev);
        var gntallocNode = Node(LinuxGrantAllocator.DefaultPath);
        if (askDevice && gntdevNode.Exists && gntdevNode.OpenError is null)
        {
            try
            {
                using var device = LinuxGrantDevice.Open(gntdev);
                wait = Ask(() => device.WaitReleased(int.MaxValue, 0) == WaitReleasedResult.NotFound ? Errno.ENOENT : Errno.None);
                export = Ask(device.ProbeExport);
                bool dom0 = capabilities?.Contains("control_d", StringComparison.Ordinal) == true;
                if (dom0 && wait == "ENOENT" && export == "EFAULT" && gntallocNode.OpenError is null && gntallocNode.Exists)
                    dma = TryDmaBacking(device);
            }
            catch (GrantDeviceUnavailableException)
            {
                // Opened a moment ago, not now: the node's answer says enough.
            }
        }
        return new MachineAnswers(
            RuntimeInformation.OSArchitecture.ToString().ToLowerInvariant(),
            LinuxProcess.Uid(),
            Read("/sys/hypervisor/type"),
            Read("/sys/hypervisor/guest_type"),
            capabilities,
            gntdevNode,
            gntallocNode,
            Node(LinuxUdmabuf.DefaultPath),
            wait,
            export,
            Read(LinuxGrantDevice.PageLimitPath),
            Read("/sys/module/xen_gntalloc/parameters/limit"),
            Read("/sys/module/udmabuf/parameters/size_limit_mb"),
            dma,
            journal is null ? null : Journal(journal));
    }

    /// <summary>One page granted to this domain (dom0) and exported write-combining: the balloon before and during.</summary>
    private static DmaBackingAnswer TryDmaBacking(LinuxGrantDevice device)
    {
        using var allocator = LinuxGrantAllocator.Open();
        var grant = allocator.Allocate(DomainId.Dom0, 1);
        try
        {
            long? before = Kb();
            var exported = device.ExportDmaBuf(DmaBufFlags.WriteCombine, DomainId.Dom0, [.. grant.Refs]);
            long? during = Kb();
            device.CloseFd(exported.Fd);
            device.WaitReleased(exported.Fd, 1000);
            return new DmaBackingAnswer(before, during, null);
        }
        catch (GntdevException e)
        {
            return new DmaBackingAnswer(null, null, e.Message);
        }
        finally
        {
            allocator.Deallocate(grant);
        }
    }

    private static long? Kb() => long.TryParse(Read(Balloon), NumberStyles.None, CultureInfo.InvariantCulture, out long kb) ? kb : null;

    private static string Ask(Func<Errno> ask)
    {
        try
        {
            return Name(ask());
        }
        catch (GntdevException e)
        {
            return Name(e.Errno);
        }
    }

    private static string Name(Errno errno) => errno == Errno.None ? "0" : errno.ToString();

    private static NodeAnswer Node(string path)
    {
        var owner = LinuxNodes.Owner(path);
        if (owner is not { } o) return new NodeAnswer(path, false, null, null);
        var errno = LinuxNodes.TryOpenReadWrite(path);
        return new NodeAnswer(path, true, $"owner {o.Uid}:{o.Gid} mode {Convert.ToString(o.Mode, 8)}", errno == Errno.None ? null : Name(errno));
    }

    /// <summary>
    /// Whether the journal can be written, without writing: the file itself if it exists, else the folder it would be
    /// made in, or the nearest existing parent the journal would create that folder under (it creates what is missing).
    /// </summary>
    private static JournalAnswer Journal(string path)
    {
        string full = Path.GetFullPath(path);
        if (Directory.Exists(full)) return new JournalAnswer(full, false, "is a folder, not a file");
        string target = File.Exists(full) ? full : Path.GetDirectoryName(full) ?? "/";
        while (!File.Exists(target) && !Directory.Exists(target)) target = Path.GetDirectoryName(target) ?? "/";
        if (target != full && File.Exists(target)) return new JournalAnswer(full, false, $"{target} is a file, where a folder would be");
        var errno = LinuxNodes.AccessReadWrite(target);
        return errno == Errno.None
            ? new JournalAnswer(full, true, null)
            : new JournalAnswer(full, false, $"{target} is not writable for uid {LinuxProcess.Uid()} ({errno})");
    }

    private static string? Read(string path)
    {
        try
        {
            return File.Exists(path) ? File.ReadAllText(path).Trim() : null;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return null;
        }
    }
}
