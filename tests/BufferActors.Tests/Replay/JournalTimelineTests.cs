using BufferActors.Actors;
using BufferActors.Actors.Lifecycles;
using BufferActors.Actors.Persistence;
using BufferActors.Actors.Persistence.Replay;
using BufferActors.Native;

namespace BufferActors.Tests.Replay;

/// <summary>The replay model on hand-built journals: timelines, spans, and one test per anomaly rule.</summary>
public sealed class JournalTimelineTests
{
    private static readonly DateTimeOffset T0 = new(2026, 1, 1, 12, 0, 0, TimeSpan.Zero);
    private static readonly LifecycleId Export1 = new(LifecycleKind.Export, new DomainId(1), 1);
    private static readonly LifecycleId Export2 = new(LifecycleKind.Export, new DomainId(2), 2);
    private static readonly LifecycleId Import3 = new(LifecycleKind.Import, new DomainId(1), 3);
    private static readonly LifecycleId Map4 = new(LifecycleKind.Map, new DomainId(1), 4);
    private static readonly Guid Device = Guid.Parse("6f1d2c1e-0000-4000-8000-000000000001");

    private static DateTimeOffset At(int ms) => T0.AddMilliseconds(ms);

    /// <summary>Numbers the events 1, 2, 3... in the order given, as the journal would.</summary>
    private static List<JournalEntry> Journal(params IEnumerable<LifecycleEvent>[] parts) =>
        [.. parts.SelectMany(p => p).Select((e, i) => new JournalEntry(i + 1, e))];

    private static IEnumerable<LifecycleEvent> ExportStart(LifecycleId id, int t) =>
    [
        new ExportRequested(id, At(t), [8, 9, 10, 11], DmaBufFlags.WriteCombine),
        new Exported(id, At(t + 1), 4, 4, Device),
        new ReservationDecreased(id, At(t + 1), 4),
    ];

    /// <summary>The demo's export, done right: attach, wait, detach, release, restore, answer, released.</summary>
    private static IEnumerable<LifecycleEvent> CleanExport(LifecycleId id, int t) =>
    [
        .. ExportStart(id, t),
        new Attached(id, At(t + 10), "display", DmaDirection.ToDevice),
        new ReleaseRequested(id, At(t + 20)),
        new WaitRequested(id, At(t + 21), 0, TimeSpan.FromSeconds(5)),
        new Detached(id, At(t + 30), "display"),
        new ReservationRestored(id, At(t + 31), 4),
        new WaitAnswered(id, At(t + 31), 0, WaitReleasedResult.Released),
        new Released(id, At(t + 31)),
    ];

    private static IEnumerable<LifecycleEvent> CleanImport(LifecycleId id, int t) =>
    [
        new ImportRequested(id, At(t), 12, 2),
        new Granted(id, At(t + 1), [100, 101], Device),
        new ReleaseRequested(id, At(t + 5)),
        new AccessEnded(id, At(t + 5)),
    ];

    private static IEnumerable<LifecycleEvent> CleanMap(LifecycleId id, int t) =>
    [
        new MapRequested(id, At(t), [20, 21], true),
        new Mapped(id, At(t + 1), 4096, Device),
        new ReleaseRequested(id, At(t + 7)),
        new Unmapped(id, At(t + 7)),
    ];

    private static void AssertAnomalies(JournalTimeline timeline, params (LifecycleId Id, AnomalyKind Kind)[] expected) =>
        Assert.Equal(expected, timeline.Anomalies.Select(a => (a.Lifecycle, a.Kind)).ToArray());

    [Fact]
    public void ACleanExportHasItsSpansAndNoAnomaly()
    {
        var timeline = JournalTimeline.Build(Journal(CleanExport(Export1, 0)));

        var l = Assert.Single(timeline.Lifecycles);
        Assert.Equal((Export1, LifecycleKind.Export, 1, "Released", true), (l.Id, l.Kind, (int)l.Domain.Value, l.State.Name, l.IsFinished));
        Assert.Equal(10, l.Events.Count);
        Assert.Equal((At(0), At(31), TimeSpan.FromMilliseconds(31)), (l.First, l.Last, l.Duration));
        Assert.Equal(
            [
                new TimelineSpan(SpanKind.Exported, "fd 4, 4 pages", At(1), At(31)),
                new TimelineSpan(SpanKind.Attached, "display (ToDevice)", At(10), At(30)),
                new TimelineSpan(SpanKind.Releasing, null, At(20), At(31)),
            ],
            l.Spans);
        Assert.Empty(timeline.Anomalies);
        Assert.Empty(timeline.Live);
        Assert.Equal((10L, 1L, 10L), (timeline.EventCount, timeline.FirstSequenceNr!.Value, timeline.LastSequenceNr!.Value));
    }

    [Fact]
    public void CleanImportsAndMapsHaveTheirSpansAndNoAnomaly()
    {
        var timeline = JournalTimeline.Build(Journal(CleanImport(Import3, 0), CleanMap(Map4, 100)));

        Assert.Equal([Import3, Map4], timeline.Lifecycles.Select(l => l.Id));
        Assert.Equal(["AccessEnded", "Unmapped"], timeline.Lifecycles.Select(l => l.State.Name));
        Assert.Equal(
            [new TimelineSpan(SpanKind.Granted, "2 refs", At(1), At(5)), new TimelineSpan(SpanKind.Releasing, null, At(5), At(5))],
            timeline.Lifecycles[0].Spans);
        Assert.Equal(
            [new TimelineSpan(SpanKind.Mapped, "index 4096", At(101), At(107)), new TimelineSpan(SpanKind.Releasing, null, At(107), At(107))],
            timeline.Lifecycles[1].Spans);
        Assert.Empty(timeline.Anomalies);
    }

    [Fact]
    public void ARefusedRequestIsFinishedWithNothingHeld()
    {
        var timeline = JournalTimeline.Build(Journal(
        [
            new ExportRequested(Export1, At(0), [8], DmaBufFlags.None),
            new Failed(Export1, At(1), ErrorCode.Device, "EINVAL from the kernel", Errno.EINVAL),
        ]));

        var l = Assert.Single(timeline.Lifecycles);
        Assert.True(l.IsFinished);
        Assert.Same(LifecycleState.Failed, l.State);
        Assert.Empty(l.Spans);
        Assert.Empty(timeline.Anomalies);
    }

    [Fact]
    public void InterleavedLifecyclesAreSeparatedAndOrderedByTheirFirstEvent()
    {
        var a = CleanExport(Export2, 0).ToList();
        var b = CleanExport(Export1, 5).ToList();
        // Alternate the two lifecycles' events, Export2 first, as concurrent lifecycles are journaled.
        var mixed = a.Zip(b).SelectMany(p => new[] { p.Item1, p.Item2 });

        var timeline = JournalTimeline.Build(Journal(mixed));

        Assert.Equal([Export2, Export1], timeline.Lifecycles.Select(l => l.Id));
        Assert.All(timeline.Lifecycles, l => Assert.Equal(10, l.Events.Count));
        Assert.Equal(Enumerable.Range(0, 10).Select(i => 2L * i + 1), timeline.Lifecycles[0].Events.Select(e => e.SequenceNr));
        Assert.Empty(timeline.Anomalies);
    }

    [Fact]
    public void NeverFinished_ALifecycleWithoutTerminalEventIsLiveWithOpenSpans()
    {
        var timeline = JournalTimeline.Build(Journal(
            CleanExport(Export2, 0),
            [.. ExportStart(Export1, 100), new Attached(Export1, At(110), "display", DmaDirection.ToDevice)]));

        AssertAnomalies(timeline, (Export1, AnomalyKind.NeverFinished));
        var anomaly = timeline.Anomalies[0];
        Assert.Equal(14, anomaly.SequenceNr); // the last event journaled for it
        Assert.Contains("Exported", anomaly.Message, StringComparison.Ordinal);
        Assert.Equal([Export1], timeline.Live);
        var live = timeline.Lifecycles[1];
        Assert.False(live.IsFinished);
        Assert.All(live.Spans, s => Assert.True(s.IsOpen));
        Assert.Equal([SpanKind.Exported, SpanKind.Attached], live.Spans.Select(s => s.Kind));
    }

    [Fact]
    public void UnmapBeforeDetach_AReleaseWhileAConsumerIsStillAttached()
    {
        var timeline = JournalTimeline.Build(Journal(
        [
            .. ExportStart(Export1, 0),
            new Attached(Export1, At(10), "display", DmaDirection.ToDevice),
            new Attached(Export1, At(11), "encoder", DmaDirection.Bidirectional),
            new Detached(Export1, At(12), "encoder"),
            new ReleaseRequested(Export1, At(20)),
            new ReservationRestored(Export1, At(21), 4),
            new Released(Export1, At(21)),
        ]));

        AssertAnomalies(timeline, (Export1, AnomalyKind.UnmapBeforeDetach));
        Assert.Equal(9, timeline.Anomalies[0].SequenceNr);
        Assert.Contains("display", timeline.Anomalies[0].Message, StringComparison.Ordinal);
        Assert.DoesNotContain("encoder", timeline.Anomalies[0].Message, StringComparison.Ordinal);
        // The attachment the release cut short ends with the lifecycle.
        Assert.Contains(new TimelineSpan(SpanKind.Attached, "display (ToDevice)", At(10), At(21)), timeline.Lifecycles[0].Spans);
    }

    [Fact]
    public void WaitNeverAnswered_OnlyTheWaiterWithoutAnAnswerIsReported()
    {
        var timeline = JournalTimeline.Build(Journal(
        [
            .. ExportStart(Export1, 0),
            new WaitRequested(Export1, At(5), 0, TimeSpan.FromMilliseconds(10)),
            new WaitRequested(Export1, At(6), 1, TimeSpan.FromSeconds(5)),
            new WaitAnswered(Export1, At(15), 0, WaitReleasedResult.TimedOut),
            new ReleaseRequested(Export1, At(20)),
            new ReservationRestored(Export1, At(21), 4),
            new Released(Export1, At(21)),
        ]));

        AssertAnomalies(timeline, (Export1, AnomalyKind.WaitNeverAnswered));
        Assert.Equal(5, timeline.Anomalies[0].SequenceNr);
        Assert.Contains("wait 1", timeline.Anomalies[0].Message, StringComparison.Ordinal);
    }

    [Fact]
    public void ReservationNotRestored_AReleasedExportThatGaveBackLessThanItTook()
    {
        var timeline = JournalTimeline.Build(Journal(
        [
            .. ExportStart(Export1, 0),
            new ReservationDecreased(Export1, At(2), 4), // 8 lowered in all
            new ReleaseRequested(Export1, At(20)),
            new Released(Export1, At(21)),
            new ReservationRestored(Export1, At(21), 4), // after the release, in the same write: still counts
        ]));

        AssertAnomalies(timeline, (Export1, AnomalyKind.ReservationNotRestored));
        Assert.Contains("4 of 8", timeline.Anomalies[0].Message, StringComparison.Ordinal);
        Assert.Equal(3, timeline.Anomalies[0].SequenceNr); // where it was first lowered
    }

    [Fact]
    public void ReservationNotRestored_IsNotReportedForReclaimedOrLiveExports_NorForARestoreAfterTheRelease()
    {
        var timeline = JournalTimeline.Build(Journal(
            // Reclaimed after a restart: the old gntdev instance took the reservation with it.
            [.. ExportStart(Export1, 0), new Reclaimed(Export1, At(50), "the old gntdev instance is gone")],
            // Released, restore journaled just after the terminal event.
            [.. ExportStart(Export2, 60), new ReleaseRequested(Export2, At(70)), new Released(Export2, At(71)), new ReservationRestored(Export2, At(71), 4)]));

        AssertAnomalies(timeline);
        Assert.All(timeline.Lifecycles, l => Assert.True(l.IsFinished));
    }

    [Fact]
    public void RefsNeverEnded_AGrantedImportThatFailedWithoutEndingItsRefs()
    {
        var timeline = JournalTimeline.Build(Journal(
        [
            new ImportRequested(Import3, At(0), 12, 2),
            new Granted(Import3, At(1), [100, 101], Device),
            new Failed(Import3, At(9), ErrorCode.Device, "IMP_RELEASE failed", Errno.EBUSY),
        ]));

        // An import never fails once granted: its release ends or defers the refs, so the failure is a transition too.
        AssertAnomalies(timeline, (Import3, AnomalyKind.RefsNeverEnded), (Import3, AnomalyKind.UnexpectedTransition));
        var refs = timeline.Anomalies.Single(a => a.Kind == AnomalyKind.RefsNeverEnded);
        Assert.Equal(2, refs.SequenceNr);
        Assert.Contains("2 refs", refs.Message, StringComparison.Ordinal);
        Assert.Empty(timeline.Live);
    }

    [Fact]
    public void UnexpectedTransition_AnEventThatMovesALifecycleWhereItsKindNeverGoes()
    {
        var timeline = JournalTimeline.Build(Journal(
        [
            new MapRequested(Map4, At(0), [8, 9], false),
            new Mapped(Map4, At(1), 0, Device),
            new Released(Map4, At(2)), // an export's end applied to a map
        ]));

        AssertAnomalies(timeline, (Map4, AnomalyKind.UnexpectedTransition));
        Assert.Equal(3, timeline.Anomalies[0].SequenceNr);
        Assert.Contains("released (sequence 3) took it from Mapped to Released", timeline.Anomalies[0].Message, StringComparison.Ordinal);
    }

    [Fact]
    public void UnexpectedTransition_ALifecycleWhoseFirstEventDoesNotOpenIt()
    {
        var timeline = JournalTimeline.Build(Journal(
        [
            new Exported(Export1, At(0), 5, 2, Device),
        ]));

        Assert.Contains(timeline.Anomalies, a => a.Kind == AnomalyKind.UnexpectedTransition && a.Message.Contains("from nothing to Exported", StringComparison.Ordinal));
    }

    [Fact]
    public void EveryTransitionAKindLists_IsWhatItsEventsFoldTo()
    {
        // The table the diagrams and replay check against is the fold's own: applying the named event in the From state
        // gives the To state, for every kind the journal knows.
        foreach (var kind in LifecycleKinds.Default(ExportSettings.Default).All)
        {
            foreach (var t in kind.Transitions)
            {
                var type = JournalVocabulary.Events.Single(e => (string)e.TypeDiscriminator! == t.Event).DerivedType;
                var e = SampleOf(type, new LifecycleId(kind.Kind, new DomainId(1), 1));
                var before = LifecycleRecord.Start(e.Id, At(0)) with { State = t.From ?? LifecycleState.Requested };
                Assert.Same(t.To, before.Apply(e).State);
                Assert.Equal(t.From is null, e.Opens);
                Assert.Equal(t.To.IsTerminal, e.IsTerminal);
            }
        }
    }

    /// <summary>An event of <paramref name="type"/> for <paramref name="id"/>, every other argument a plain value.</summary>
    private static LifecycleEvent SampleOf(Type type, LifecycleId id)
    {
        var ctor = type.GetConstructors().Single(c => c.GetParameters().Length > 0 && c.GetParameters()[0].ParameterType == typeof(LifecycleId));
        var args = ctor.GetParameters().Select(p => p.ParameterType switch
        {
            var t when t == typeof(LifecycleId) => id,
            var t when t == typeof(DateTimeOffset) => At(1),
            var t when t == typeof(uint[]) => new uint[] { 8, 9 },
            var t when t == typeof(string) => "sample",
            var t when t.IsValueType => Activator.CreateInstance(t),
            _ => null,
        }).ToArray();
        return (LifecycleEvent)ctor.Invoke(args);
    }

    [Fact]
    public void RefsNeverEnded_IsNotReportedWhenTheImportWasReclaimed()
    {
        var timeline = JournalTimeline.Build(Journal(
        [
            new ImportRequested(Import3, At(0), 12, 2),
            new Granted(Import3, At(1), [100, 101], Device),
            new Reclaimed(Import3, At(9), "the old gntdev instance was closed"),
        ]));

        AssertAnomalies(timeline);
    }

    [Fact]
    public void ALiveGrantedImportIsBothNeverFinishedAndRefsNeverEnded()
    {
        var timeline = JournalTimeline.Build(Journal(
        [
            new ImportRequested(Import3, At(0), 12, 2),
            new Granted(Import3, At(1), [100, 101], Device),
        ]));

        AssertAnomalies(timeline, (Import3, AnomalyKind.NeverFinished), (Import3, AnomalyKind.RefsNeverEnded));
    }

    [Fact]
    public void EventsOutOfSequenceOrderAreRefused()
    {
        var entries = Journal(CleanExport(Export1, 0));
        (entries[3], entries[4]) = (entries[4], entries[3]);

        var e = Assert.Throws<ArgumentException>(() => JournalTimeline.Build(entries));
        Assert.Contains("4 came after 5", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void AnEmptyJournalHasNoLifecycles()
    {
        var timeline = JournalTimeline.Build([]);

        Assert.Empty(timeline.Lifecycles);
        Assert.Empty(timeline.Anomalies);
        Assert.Null(timeline.Start);
        Assert.Equal(0, timeline.EventCount);
    }
}
