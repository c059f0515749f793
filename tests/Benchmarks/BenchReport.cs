using System.CommandLine;
using System.Text.Json;

namespace BufferActors.Benchmarks;

/// <summary>
/// The figures of one benchmark run. With <c>--json</c> the human-readable report goes to stderr and stdout
/// carries <c>{"figures":[{"name":…,"value":…,"unit":…,"baseline":…}]}</c>, where <c>baseline</c> names the
/// figure of the same run a ratio or a cost is measured against (null for a figure that is its own baseline).
/// </summary>
internal sealed class BenchReport
{
    /// <summary><c>--json</c>: every bench command takes it.</summary>
    public static readonly Option<bool> JsonOption = new("--json") { Description = "Print the figures as JSON on stdout (the report goes to stderr).", Recursive = true };

    private readonly List<Figure> _figures = [];

    /// <summary>One figure.</summary>
    public sealed record Figure(string Name, double Value, string Unit, string? Baseline);

    /// <summary>The figures so far, in the order added.</summary>
    public IReadOnlyList<Figure> Figures => _figures;

    /// <summary>Adds a figure; a name already reported is refused (each figure has one value per run).</summary>
    public void Add(string name, double value, string unit, string? baseline = null)
    {
        if (_figures.Exists(f => f.Name == name)) throw new InvalidOperationException($"figure {name} is reported twice");
        _figures.Add(new Figure(name, value, unit, baseline));
    }

    /// <summary>The JSON document of the figures.</summary>
    public string ToJson()
    {
        using var stream = new MemoryStream();
        using (var w = new Utf8JsonWriter(stream, new JsonWriterOptions { Indented = true }))
        {
            w.WriteStartObject();
            w.WriteStartArray("figures");
            foreach (var f in _figures)
            {
                w.WriteStartObject();
                w.WriteString("name", f.Name);
                if (double.IsFinite(f.Value)) w.WriteNumber("value", Math.Round(f.Value, 4));
                else w.WriteNull("value");
                w.WriteString("unit", f.Unit);
                if (f.Baseline is null) w.WriteNull("baseline");
                else w.WriteString("baseline", f.Baseline);
                w.WriteEndObject();
            }
            w.WriteEndArray();
            w.WriteEndObject();
        }
        return System.Text.Encoding.UTF8.GetString(stream.ToArray());
    }

    /// <summary>
    /// Runs a bench command's body with the report and the writer for its text (stdout, or stderr with
    /// <c>--json</c>), then prints the JSON; the body's exit code is the command's.
    /// </summary>
    public static int Run(ParseResult parse, Func<TextWriter, BenchReport, Task<int>> bench)
    {
        bool json = parse.GetValue(JsonOption);
        var report = new BenchReport();
        int code = bench(json ? Console.Error : Console.Out, report).GetAwaiter().GetResult();
        if (json) Console.Out.WriteLine(report.ToJson());
        return code;
    }

    /// <summary>The name of a buffer size in figures: <c>1080p</c> (2025 pages), <c>4k</c> (8100), else <c>{n}pages</c>.</summary>
    public static string SizeName(int pages) => pages switch { 2025 => "1080p", 8100 => "4k", _ => $"{pages}pages" };

    /// <summary>The name of a dispatcher in figures: <c>inline</c> or <c>threadpool</c>.</summary>
    public static string DispatcherName(string dispatcher) => dispatcher.Replace("-", "", StringComparison.Ordinal);
}
