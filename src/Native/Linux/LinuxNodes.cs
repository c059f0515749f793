using System.Text;
using Tmds.Linux;

namespace BufferActors.Native.Linux;

/// <summary>What a device node is (sys/stat.h) and whether this process may open it read-write: what <c>doctor</c> reports.</summary>
public static unsafe class LinuxNodes
{
    /// <summary>stat(2): the owner, group and permission bits of <paramref name="path"/>; null when it does not exist (or cannot be seen).</summary>
    public static (int Uid, int Gid, int Mode)? Owner(string path)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        byte[] cpath = Encoding.UTF8.GetBytes(path + "\0");
        stat status;
        fixed (byte* p = cpath)
        {
            if (LibC.stat(p, &status) != 0) return null;
        }
        return (unchecked((int)(uint)status.st_uid), unchecked((int)(uint)status.st_gid), (int)((uint)status.st_mode & 0xFFF));
    }

    /// <summary>access(2): whether this process may read and write <paramref name="path"/> (for a folder: create files in it); the errno when not.</summary>
    public static Errno AccessReadWrite(string path)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        byte[] cpath = Encoding.UTF8.GetBytes(path + "\0");
        bool folder = Directory.Exists(path);
        int mode = LibC.W_OK | (folder ? LibC.X_OK : LibC.R_OK);
        fixed (byte* p = cpath)
        {
            return LinuxErrno.Failed(LibC.access(p, mode), out Errno errno) ? errno : Errno.None;
        }
    }

    /// <summary>Opens <paramref name="path"/> read-write and closes it again: <see cref="Errno.None"/>, or why it does not open.</summary>
    public static Errno TryOpenReadWrite(string path)
    {
        int fd = LinuxFiles.OpenReadWrite(path, out Errno errno);
        if (fd >= 0) LinuxFiles.Close(fd);
        return errno;
    }
}
