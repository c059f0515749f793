namespace BufferActors.Host.Daemon.Protocol;

/// <summary>
/// A frame that makes the stream untrustworthy (docs/protocol.md, "Two tiers of errors"): the connection is closed
/// after a <see cref="Goodbye"/>, and every descriptor that came with the frame is closed by the receiver.
/// </summary>
public sealed class ProtocolViolationException(string message) : Exception(message);
