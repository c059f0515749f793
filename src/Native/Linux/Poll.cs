using System.Runtime.InteropServices;
using Tmds.Linux;

namespace BufferActors.Native.Linux;

/// <summary>
/// poll(2) (poll.h), declared here rather than taken from Tmds.LibC: Tmds.LibC declares poll without SetLastError, so
/// its errno is whatever an earlier call left (a poll interrupted by the runtime's thread-suspension signal read as
/// errno 0). Declared with SetLastError, the runtime saves errno as the call returns, and <see cref="LinuxErrno.Last"/>
/// reads that.
/// </summary>
internal static unsafe partial class Poll
{
    /// <summary>Waits for events on <paramref name="nfds"/> descriptors; -1 with errno on failure.</summary>
    [LibraryImport("libc", EntryPoint = "poll", SetLastError = true)]
    internal static partial int poll(pollfd* fds, nuint nfds, int timeout);
}
