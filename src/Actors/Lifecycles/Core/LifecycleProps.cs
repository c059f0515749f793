namespace BufferActors.Actors.Lifecycles;

/// <summary>
/// Props for one lifecycle actor, made by a plain factory function on the compact lifecycle mailbox.
/// A lifecycle actor is spawned for every export, import and map, so this is on every export's path:
/// <c>Props.Create(() => new T(...))</c> builds an expression tree at each call, and Akka then reads the
/// captured arguments and finds the constructor by reflection when it creates the actor; a delegate does
/// neither (about 1.3 KB less allocated per lifecycle; no latency change stood out in bench lifecycle).
/// </summary>
internal static class LifecycleProps
{
    /// <summary>
    /// Props whose actor is <paramref name="create"/>(<paramref name="args"/>)'s result. The arguments live in the
    /// producer itself and <paramref name="create"/> is a static lambda (cached, never allocated): the Props are kept
    /// by the actor for its whole life, and a closure and a delegate beside the producer would be ~80 B more per live
    /// lifecycle (docs/performance.md, "Scale").
    /// </summary>
    public static Props Of<TActor, TArgs>(TArgs args, Func<TArgs, TActor> create) where TActor : ActorBase =>
        Props.CreateBy(new Producer<TActor, TArgs>(args, create)).WithMailbox(LifecycleMailbox.Id);

    private sealed class Producer<TActor, TArgs>(TArgs args, Func<TArgs, TActor> create) : IIndirectActorProducer where TActor : ActorBase
    {
        public Type ActorType => typeof(TActor);

        public ActorBase Produce() => create(args);

        public void Release(ActorBase actor)
        {
            // Nothing to give back: the actor's own PostStop releases what it holds.
        }
    }
}
