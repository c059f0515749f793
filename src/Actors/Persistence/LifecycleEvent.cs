using System.Text.Json.Serialization;

namespace BufferActors.Actors.Persistence;

/// <summary>
/// One state change of one lifecycle, as journaled. A lifecycle's state is the fold of its events: each event
/// states its own step (<see cref="ApplyTo"/>), so a kind's fold is written once, with its events, in its module
/// (<c>Lifecycles/&lt;Kind&gt;/&lt;Kind&gt;Events.cs</c>), and the live actor, the journal's index, recovery and
/// replay all fold with it. Events carry the lifecycle's id (kind, domain, sequence) and the time; the journal tags
/// them by domain and kind and names each by its discriminator (<see cref="JournalVocabulary"/>).
/// </summary>
public abstract record LifecycleEvent(LifecycleId Id, DateTimeOffset At)
{
    /// <summary>True when the lifecycle is over after this event.</summary>
    [JsonIgnore]
    public virtual bool IsTerminal => false;

    /// <summary>True for the event that starts a lifecycle (its request); no other event brings a lifecycle into being.</summary>
    [JsonIgnore]
    public virtual bool Opens => false;

    /// <summary>The state of this event's lifecycle after it: <paramref name="state"/> with this step applied, <c>Updated</c> set to <see cref="At"/>.</summary>
    public abstract LifecycleRecord ApplyTo(LifecycleRecord state);
}
