namespace BufferActors.Actors.Supervision;

/// <summary>The supervisor strategies of BufferActors, named so every parent says which it uses.</summary>
public static class LifecycleSupervision
{
    /// <summary>
    /// A lifecycle that throws is stopped, never restarted: a restart would acquire a new kernel object
    /// under the same identity. Stopping runs its PostStop, which releases what it holds exactly once.
    /// </summary>
    public static SupervisorStrategy StopAndRelease { get; } = new OneForOneStrategy(_ => Directive.Stop);

    /// <summary>
    /// A domain supervisor that throws is resumed: its children — live kernel objects — must not be
    /// torn down because of a bookkeeping error in their parent.
    /// </summary>
    public static SupervisorStrategy ResumeDomain { get; } = new OneForOneStrategy(_ => Directive.Resume);
}
