namespace BufferActors.Native;

/// <summary>The process at the other end of a Unix socket, as the kernel recorded it at connect (<c>SO_PEERCRED</c>).</summary>
/// <param name="Pid">The peer's process id, -1 if the kernel did not say.</param>
/// <param name="Uid">The peer's effective user id, -1 if unknown.</param>
/// <param name="Gid">The peer's effective group id, -1 if unknown.</param>
public readonly record struct PeerCredentials(int Pid, int Uid, int Gid)
{
    /// <inheritdoc />
    public override string ToString() => $"pid {Pid}, uid {Uid}, gid {Gid}";
}
