using Tmds.Linux;

namespace BufferActors.Native.Linux;

/// <summary>This process's identity (unistd.h).</summary>
public static class LinuxProcess
{
    /// <summary>getuid(2): the real user id of this process.</summary>
    public static int Uid() => unchecked((int)(uint)LibC.getuid());

    /// <summary>getgid(2): the real group id of this process.</summary>
    public static int Gid() => unchecked((int)(uint)LibC.getgid());

    /// <summary>
    /// The group id <paramref name="group"/> names: a number as it is, a name through the C library's name service
    /// (getgrnam_r); null when no such group exists.
    /// </summary>
    /// <exception cref="NativeCallException">The name service failed.</exception>
    public static int? GroupId(string group)
    {
        ArgumentException.ThrowIfNullOrEmpty(group);
        if (uint.TryParse(group, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out uint gid)) return unchecked((int)gid);
        return Getgrnam.GroupId(group);
    }
}
