namespace BufferActors.Actors;

/// <summary>
/// The one place where a device error becomes a reply instead of an exception: request paths answer
/// the caller with <see cref="OperationFailed"/> and change nothing; every other device error is left
/// to throw, so the supervisor stops the lifecycle and its PostStop releases what it holds.
/// </summary>
internal static class DeviceCall
{
    public static OperationFailed? Try(Action call)
    {
        try
        {
            call();
            return null;
        }
        catch (GntdevException e)
        {
            return OperationFailed.From(e);
        }
    }
}
