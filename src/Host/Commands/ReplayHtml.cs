using System.Net;
using BufferActors.Actors.Persistence.Replay;

namespace BufferActors.Host.Commands;

/// <summary>
/// A self-contained HTML timeline of a replay: inline CSS and script, no network. The page embeds the same JSON
/// document as <c>replay --json</c> and its script draws one row per lifecycle (element with a
/// <c>data-lifecycle</c> attribute) with coloured spans on one shared time axis; the anomalies are also written
/// as static HTML, so they are readable even with scripts off.
/// </summary>
internal static partial class ReplayHtml
{
    /// <summary>Renders the page.</summary>
    public static string Render(JournalTimeline timeline, string journal)
    {
        // Utf8JsonWriter's default encoder escapes '<', '>' and '&': the JSON cannot close its <script> element.
        string json = ReplayJson.ToJson(timeline, journal, indented: false);
        var anomalies = new System.Text.StringBuilder();
        foreach (var a in timeline.Anomalies)
            anomalies.Append("      <li class=\"anomaly\"><span class=\"kind\">").Append(Encode(a.Kind.ToString()))
                .Append("</span> ").Append(Encode(a.Message)).Append("</li>\n"); // the message names the lifecycle
        if (timeline.Anomalies.Count == 0) anomalies.Append("      <li class=\"none\">none: every rule holds</li>\n");

        var values = new Dictionary<string, string>
        {
            ["TITLE"] = Encode($"BufferActors replay: {journal}"),
            ["JOURNAL"] = Encode(journal),
            ["ANOMALY_COUNT"] = timeline.Anomalies.Count.ToString(System.Globalization.CultureInfo.InvariantCulture),
            ["ANOMALIES"] = anomalies.ToString(),
            ["DATA"] = json,
        };
        // One pass over the template: a placeholder-like text inside a value (a path, a message) stays as it is.
        return Placeholder().Replace(Template, m => values[m.Groups[1].Value]);
    }

    [System.Text.RegularExpressions.GeneratedRegex(@"\{\{([A-Z_]+)\}\}")]
    private static partial System.Text.RegularExpressions.Regex Placeholder();

    private static string Encode(string text) => WebUtility.HtmlEncode(text);

    // The rows are built by the script from the embedded JSON (and only there), so a browser that shows them has run it.
    private const string Template = """
        <!DOCTYPE html>
        <html lang="en">
        <head>
        <meta charset="utf-8">
        <title>{{TITLE}}</title>
        <style>
          :root { --exported: #4c78a8; --mapped: #72b7b2; --granted: #54a24b; --attached: #f58518; --releasing: #e45756; --lane: 9px; }
          body { font: 13px/1.4 system-ui, sans-serif; margin: 16px 24px; color: #222; }
          h1 { font-size: 18px; margin: 0 0 4px; }
          h2 { font-size: 15px; margin: 20px 0 6px; }
          .meta { color: #555; margin-bottom: 10px; }
          .legend { display: flex; gap: 14px; flex-wrap: wrap; margin: 8px 0 12px; }
          .legend span { display: inline-flex; align-items: center; gap: 5px; }
          .swatch { width: 22px; height: 10px; display: inline-block; border-radius: 2px; }
          .grid { display: grid; grid-template-columns: 280px 1fr; }
          .axis { position: relative; height: 20px; border-bottom: 1px solid #999; }
          .tick { position: absolute; top: 0; font-size: 11px; color: #555; transform: translateX(-50%); white-space: nowrap; }
          .tick::after { content: ""; position: absolute; left: 50%; top: 15px; height: 5px; border-left: 1px solid #999; }
          .tick.first { transform: none; }
          .tick.first::after { left: 0; }
          .tick.last { transform: translateX(-100%); }
          .tick.last::after { left: 100%; }
          .row { display: contents; }
          .row > .label { padding: 3px 8px 3px 0; border-bottom: 1px solid #eee; white-space: nowrap; overflow: hidden; text-overflow: ellipsis; }
          .row > .track { position: relative; border-bottom: 1px solid #eee; }
          .row.live > .label .state { color: #b35c00; font-weight: 600; }
          .row.anomalous > .label { color: #b00020; }
          .label .state, .label .info { color: #666; font-size: 11px; margin-left: 6px; }
          .span { position: absolute; height: calc(var(--lane) - 2px); min-width: 2px; border-radius: 2px; box-sizing: border-box; }
          .span.open { border-right: 3px dashed #000; }
          .k-exported { background: var(--exported); }
          .k-mapped { background: var(--mapped); }
          .k-granted { background: var(--granted); }
          .k-attached { background: var(--attached); }
          .k-releasing { background: repeating-linear-gradient(45deg, var(--releasing) 0 4px, #f3b5b5 4px 8px); }
          .open-swatch { border-right: 3px dashed #000; background: #ccc; }
          #anomalies li { margin: 3px 0; }
          #anomalies .kind { font-weight: 600; color: #b00020; }
          #anomalies .none { color: #2a7a2a; }
          .empty { color: #666; font-style: italic; padding: 8px 0; }
        </style>
        </head>
        <body>
          <h1>Lifecycle journal replay</h1>
          <div class="meta">Journal: {{JOURNAL}} <span id="summary"></span></div>
          <noscript><p>The timeline rows are drawn by this page's inline script; enable JavaScript to see them. The anomalies are listed below either way.</p></noscript>
          <div class="legend">
            <span><i class="swatch k-exported"></i>exported (dma-buf held)</span>
            <span><i class="swatch k-mapped"></i>mapped</span>
            <span><i class="swatch k-granted"></i>granted</span>
            <span><i class="swatch k-attached"></i>attached (one lane per consumer)</span>
            <span><i class="swatch k-releasing"></i>releasing</span>
            <span><i class="swatch open-swatch"></i>still open when the journal ends</span>
          </div>
          <div class="grid" id="timeline">
            <div class="axis-label"></div>
            <div class="axis" id="axis"></div>
          </div>
          <section id="anomalies">
            <h2>Anomalies ({{ANOMALY_COUNT}})</h2>
            <ul>
        {{ANOMALIES}}    </ul>
          </section>
          <script type="application/json" id="replay-data">{{DATA}}</script>
          <script>
          (function () {
            "use strict";
            var data = JSON.parse(document.getElementById("replay-data").textContent);
            // Date.parse keeps milliseconds only; the journal's times carry ticks, so the fraction is added by hand.
            function ms(text) {
              var m = /^(.*T\d\d:\d\d:\d\d)(\.\d+)?(.*)$/.exec(text);
              if (!m) return Date.parse(text);
              return Date.parse(m[1] + (m[3] || "Z")) + (m[2] ? parseFloat("0" + m[2]) * 1000 : 0);
            }
            function duration(d) { return d >= 2000 ? (d / 1000).toFixed(2) + " s" : d.toFixed(1) + " ms"; }
            function el(tag, cls, text) {
              var e = document.createElement(tag);
              if (cls) e.className = cls;
              if (text !== undefined) e.textContent = text;
              return e;
            }
            var grid = document.getElementById("timeline");
            var start = data.start ? ms(data.start) : 0, end = data.end ? ms(data.end) : 0;
            var total = Math.max(end - start, 1);
            function pct(t) { return ((t - start) / total * 100).toFixed(4) + "%"; }

            document.getElementById("summary").textContent =
              "| " + data.events + " events, " + data.lifecycles.length + " lifecycles (" + data.live.length + " live), " +
              data.anomalies.length + " anomalies" + (data.start ? ", from " + data.start + " over " + duration(end - start) : "");

            var axis = document.getElementById("axis");
            for (var i = 0; i <= 4; i++) {
              var tick = el("div", "tick", "+" + duration(total * i / 4));
              tick.style.left = (i * 25) + "%";
              // The end labels stay inside the axis instead of hanging over its edges.
              if (i === 0) tick.className += " first";
              if (i === 4) tick.className += " last";
              axis.appendChild(tick);
            }

            var anomalous = {};
            data.anomalies.forEach(function (a) { (anomalous[a.lifecycle] = anomalous[a.lifecycle] || []).push(a.kind + ": " + a.message); });

            if (data.lifecycles.length === 0) grid.appendChild(el("div", "empty", "The journal holds no lifecycle events."));
            data.lifecycles.forEach(function (l) {
              var row = el("div", "row" + (l.finished ? "" : " live") + (anomalous[l.id] ? " anomalous" : ""));
              row.dataset.lifecycle = l.id;
              var label = el("div", "label", (anomalous[l.id] ? "\u26a0 " : "") + l.name);
              label.appendChild(el("span", "state", l.state));
              label.appendChild(el("span", "info", l.events + " events, " + duration(l.durationMs)));
              label.title = l.id + (anomalous[l.id] ? "\n" + anomalous[l.id].join("\n") : "");
              var track = el("div", "track");
              var lanes = { exported: 0, mapped: 0, granted: 0, releasing: 1 }, consumers = {}, next = 2;
              l.spans.forEach(function (s) {
                var lane = s.kind === "attached"
                  ? (consumers[s.label] !== undefined ? consumers[s.label] : (consumers[s.label] = next++))
                  : lanes[s.kind];
                var from = ms(s.from), to = s.to ? ms(s.to) : end;
                var span = el("div", "span k-" + s.kind + (s.to ? "" : " open"));
                span.style.left = pct(from);
                span.style.width = ((to - from) / total * 100).toFixed(4) + "%";
                span.style.top = "calc(var(--lane) * " + lane + " + 3px)";
                span.title = s.kind + (s.label ? " " + s.label : "") + ": " + s.from + " \u2192 " + (s.to || "open") + " (" + duration(to - from) + ")";
                track.appendChild(span);
              });
              track.style.height = "calc(var(--lane) * " + Math.max(next, 2) + " + 6px)";
              row.appendChild(label);
              row.appendChild(track);
              grid.appendChild(row);
            });
          })();
          </script>
        </body>
        </html>
        """;
}
