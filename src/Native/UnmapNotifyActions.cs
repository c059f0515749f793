namespace BufferActors.Native;

/// <summary>What happens when a page with an unmap notification is unmapped (<c>UNMAP_NOTIFY_*</c>).</summary>
/// <remarks>
/// The same actions serve gntdev (the mapping side: notify the granter when the backend unmaps) and
/// gntalloc (the granting side: notify the mapper when the grant is deallocated).
/// </remarks>
[Flags]
public enum UnmapNotifyActions : uint
{
    /// <summary>No notification: clears a previously set one.</summary>
    None = 0,
    /// <summary>UNMAP_NOTIFY_CLEAR_BYTE: set the byte at the notify offset to zero.</summary>
    ClearByte = 1,
    /// <summary>UNMAP_NOTIFY_SEND_EVENT: signal the event channel.</summary>
    SendEvent = 2,
}
