using System.Runtime.InteropServices;
using System.Text;

#pragma warning disable CS8981 // C names are lower case on purpose.
#pragma warning disable IDE1006 // Naming rule violation: C names kept exactly.

namespace BufferActors.Native.Linux;

/// <summary>
/// getgrnam_r(3) (grp.h): a group's id by its name, through the C library's name service (files, LDAP, systemd's
/// dynamic groups), as <c>chgrp</c> resolves it. Tmds.LibC does not declare it.
/// </summary>
internal static unsafe partial class Getgrnam
{
    /// <summary><c>struct group</c>: the members this reads, in the C layout.</summary>
    [StructLayout(LayoutKind.Sequential)]
    private struct group
    {
        public byte* gr_name;
        public byte* gr_passwd;
        public uint gr_gid;
        public byte** gr_mem;
    }

    [LibraryImport("libc", EntryPoint = "getgrnam_r")]
    private static partial int getgrnam_r(byte* name, group* grp, byte* buf, nuint buflen, group** result);

    private const int ERANGE = 34;

    /// <summary>The id of group <paramref name="name"/>, or null when there is no such group.</summary>
    /// <exception cref="NativeCallException">The name service failed.</exception>
    public static int? GroupId(string name)
    {
        byte[] cname = Encoding.UTF8.GetBytes(name + "\0");
        for (int size = 1024; ; size *= 2)
        {
            byte[] buffer = new byte[size];
            group entry;
            group* found;
            int rc;
            fixed (byte* n = cname)
            fixed (byte* b = buffer)
            {
                rc = getgrnam_r(n, &entry, b, (nuint)size, &found);
            }
            // getgrnam_r returns the error number itself (it does not set errno); ERANGE: a larger buffer is needed.
            if (rc == ERANGE && size < 1 << 20) continue;
            if (rc != 0) throw LinuxErrno.CallFail("getgrnam_r", (Errno)rc, $"cannot look up group '{name}'");
            return found is null ? null : unchecked((int)entry.gr_gid);
        }
    }
}
