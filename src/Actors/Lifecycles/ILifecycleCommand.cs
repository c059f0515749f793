namespace BufferActors.Actors.Lifecycles;

/// <summary>A command addressed to one existing lifecycle; routed by its <see cref="Id"/>.</summary>
public interface ILifecycleCommand
{
    /// <summary>The lifecycle addressed.</summary>
    LifecycleId Id { get; }
}
