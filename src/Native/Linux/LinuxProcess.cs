using Tmds.Linux;

namespace BufferActors.Native.Linux;

/// <summary>This process's identity (unistd.h).</summary>
public static class LinuxProcess
{
    /// <summary>getuid(2): the real user id of this process.</summary>
    public static int Uid() => unchecked((int)(uint)LibC.getuid());

    /// <summary>getgid(2): the real group id of this process.</summary>
    public static int Gid() => unchecked((int)(uint)LibC.getgid());
}
