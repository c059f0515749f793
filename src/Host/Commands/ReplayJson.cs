using System.Text.Json;
using BufferActors.Actors;
using BufferActors.Actors.Persistence.Replay;
using BufferActors.Host.Replay;

namespace BufferActors.Host.Commands;

/// <summary>
/// The machine-readable form of a replay: one JSON object with <c>lifecycles</c>, <c>live</c>, <c>anomalies</c>
/// and <c>totals</c>. The HTML page embeds the same document, so what a script reads and what a person sees agree.
/// </summary>
internal static class ReplayJson
{
    /// <summary>Writes the document. The default encoder escapes &lt;, &gt; and &amp;, so the output can sit inside a &lt;script&gt; element.</summary>
    public static void Write(Utf8JsonWriter w, JournalTimeline timeline, string journal, ReexecutionResult? simulate = null)
    {
        w.WriteStartObject();
        w.WriteString("journal", journal);
        w.WriteString("persistenceId", JournalReader.PersistenceId);
        w.WriteNumber("events", timeline.EventCount);
        WriteNullable(w, "firstSequenceNr", timeline.FirstSequenceNr);
        WriteNullable(w, "lastSequenceNr", timeline.LastSequenceNr);
        WriteTime(w, "start", timeline.Start);
        WriteTime(w, "end", timeline.End);

        w.WriteStartArray("lifecycles");
        foreach (var l in timeline.Lifecycles)
        {
            w.WriteStartObject();
            w.WriteString("id", Id(l.Id));
            w.WriteString("name", l.Id.ToString());
            w.WriteString("kind", l.Kind.Name);
            w.WriteNumber("domain", l.Domain.Value);
            w.WriteNumber("sequence", l.Id.Sequence);
            w.WriteString("state", l.State.Name);
            w.WriteBoolean("finished", l.IsFinished);
            w.WriteNumber("events", l.Events.Count);
            w.WriteNumber("firstSequenceNr", l.Events[0].SequenceNr);
            w.WriteNumber("lastSequenceNr", l.Events[^1].SequenceNr);
            w.WriteString("first", l.First);
            w.WriteString("last", l.Last);
            w.WriteNumber("durationMs", Math.Round(l.Duration.TotalMilliseconds, 3));
            w.WriteStartArray("spans");
            foreach (var s in l.Spans)
            {
                w.WriteStartObject();
                w.WriteString("kind", s.Kind.ToString().ToLowerInvariant());
                if (s.Label is null) w.WriteNull("label");
                else w.WriteString("label", s.Label);
                w.WriteString("from", s.From);
                WriteTime(w, "to", s.To);
                w.WriteEndObject();
            }
            w.WriteEndArray();
            w.WriteEndObject();
        }
        w.WriteEndArray();

        w.WriteStartArray("live");
        foreach (var id in timeline.Live) w.WriteStringValue(Id(id));
        w.WriteEndArray();

        w.WriteStartArray("anomalies");
        foreach (var a in timeline.Anomalies)
        {
            w.WriteStartObject();
            w.WriteString("lifecycle", Id(a.Lifecycle));
            w.WriteString("kind", a.Kind.ToString());
            w.WriteString("message", a.Message);
            w.WriteNumber("sequenceNr", a.SequenceNr);
            w.WriteEndObject();
        }
        w.WriteEndArray();

        w.WriteStartObject("totals");
        w.WriteNumber("lifecycles", timeline.Lifecycles.Count);
        w.WriteNumber("finished", timeline.Lifecycles.Count - timeline.Live.Count);
        w.WriteNumber("live", timeline.Live.Count);
        w.WriteNumber("anomalies", timeline.Anomalies.Count);
        w.WriteStartObject("byKind");
        foreach (var kind in LifecycleKind.All)
            w.WriteNumber(kind.Name, timeline.Lifecycles.Count(l => l.Kind == kind));
        w.WriteEndObject(); // byKind
        w.WriteEndObject(); // totals
        if (simulate is not null) WriteSimulate(w, simulate);
        w.WriteEndObject();
    }

    /// <summary><c>simulate</c>: the re-execution against the simulator (<c>replay --simulate</c>).</summary>
    private static void WriteSimulate(Utf8JsonWriter w, ReexecutionResult r)
    {
        w.WriteStartObject("simulate");
        w.WriteNumber("seed", r.Seed);
        w.WriteNumber("operations", r.Operations);
        WriteDivergences(w, "divergences", r.Divergences);
        WriteDivergences(w, "notes", r.Notes);
        w.WriteStartArray("violations");
        foreach (var v in r.Violations) w.WriteStringValue(v);
        w.WriteEndArray();
        var l = r.Ledger;
        w.WriteStartObject("ledger");
        w.WriteNumber("maps", l.Maps);
        w.WriteNumber("mappedGrants", l.MappedGrants);
        w.WriteNumber("grantedRefs", l.GrantedRefs);
        w.WriteNumber("dmaBufs", l.DmaBufs);
        w.WriteNumber("attachments", l.Attachments);
        w.WriteNumber("openFds", l.OpenFds);
        w.WriteNumber("exports", l.Exports);
        w.WriteNumber("imports", l.Imports);
        w.WriteNumber("reservationPages", l.ReservationPages);
        w.WriteNumber("deferredRefs", l.DeferredRefs);
        w.WriteString("reservationByDomain", l.ReservationByDomain);
        w.WriteEndObject();
        w.WriteEndObject();
    }

    private static void WriteDivergences(Utf8JsonWriter w, string name, IReadOnlyList<Divergence> list)
    {
        w.WriteStartArray(name);
        foreach (var d in list)
        {
            w.WriteStartObject();
            w.WriteNumber("sequenceNr", d.SequenceNr);
            w.WriteString("lifecycle", Id(d.Lifecycle));
            w.WriteString("operation", d.Operation);
            w.WriteString("expected", d.Expected);
            w.WriteString("actual", d.Actual);
            w.WriteEndObject();
        }
        w.WriteEndArray();
    }

    /// <summary>The document as a string.</summary>
    public static string ToJson(JournalTimeline timeline, string journal, bool indented, ReexecutionResult? simulate = null)
    {
        using var buffer = new MemoryStream();
        using (var w = new Utf8JsonWriter(buffer, new JsonWriterOptions { Indented = indented }))
            Write(w, timeline, journal, simulate);
        return System.Text.Encoding.UTF8.GetString(buffer.ToArray());
    }

    /// <summary>A lifecycle id as the journal writes it (<c>export:1:42</c>), so output and payloads can be matched.</summary>
    public static string Id(LifecycleId id) => $"{id.Kind.Name}:{id.Domain.Value}:{id.Sequence}";

    private static void WriteTime(Utf8JsonWriter w, string name, DateTimeOffset? value)
    {
        if (value is { } v) w.WriteString(name, v);
        else w.WriteNull(name);
    }

    private static void WriteNullable(Utf8JsonWriter w, string name, long? value)
    {
        if (value is { } v) w.WriteNumber(name, v);
        else w.WriteNull(name);
    }
}
