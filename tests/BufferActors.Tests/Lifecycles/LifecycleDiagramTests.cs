using System.Text.RegularExpressions;
using BufferActors.Actors;
using BufferActors.Actors.Lifecycles;

namespace BufferActors.Tests.Lifecycles;

/// <summary>
/// The state diagrams in docs/lifecycles.md are the kinds' transition tables (<see cref="ILifecycleKind.Transitions"/>),
/// both ways: every state and arrow drawn is in the code, and every one in the code is drawn.
/// </summary>
public sealed partial class LifecycleDiagramTests
{
    private static readonly LifecycleKinds Kinds = LifecycleKinds.Default(ExportSettings.Default);

    [Fact]
    public void EveryDiagramIsAKindsTransitionTable_AndEveryJournaledKindHasOne()
    {
        var diagrams = Diagrams(File.ReadAllText(RepositoryFiles.Path("docs/lifecycles.md")));
        var journaled = Kinds.All.Where(k => k.Transitions.Count > 0).Select(k => k.Kind.Name).Order().ToList();
        Assert.Equal(journaled, diagrams.Keys.Order().ToList());
        foreach (var (name, diagram) in diagrams)
        {
            Assert.True(LifecycleKind.TryParse(name, out var kind));
            Assert.Equal(Expected(Kinds.Of(kind)), diagram);
        }
    }

    [Fact]
    public void ADiagramWithAnArrowTheCodeDoesNotHave_OrWithoutOneItHas_IsNotTheTable()
    {
        var doc = File.ReadAllText(RepositoryFiles.Path("docs/lifecycles.md"));
        var export = Expected(Kinds.Of(LifecycleKind.Export));

        var extra = Diagrams(doc.Replace("    Requested --> Failed : failed\n", "    Requested --> Failed : failed\n    Released --> Exported : exported\n", StringComparison.Ordinal));
        Assert.NotEqual(export, extra["export"]);
        var missing = Diagrams(doc.Replace("    Exported --> Released : released\n", "", StringComparison.Ordinal));
        Assert.NotEqual(export, missing["export"]);
        var notTerminal = Diagrams(doc.Replace("    Released --> [*]\n", "", StringComparison.Ordinal));
        Assert.NotEqual(export, notTerminal["export"]);
    }

    [Fact]
    public void ADiagramThatNamesNoKind_IsRefused()
    {
        const string doc = "```mermaid\nstateDiagram-v2\n    [*] --> Requested : export-requested\n```\n";
        Assert.Throws<InvalidDataException>(() => Diagrams(doc));
    }

    /// <summary>A kind's table as a diagram reads: the labelled arrows, and an unlabelled arrow to the end from each terminal state.</summary>
    private static SortedSet<string> Expected(ILifecycleKind kind)
    {
        var lines = new SortedSet<string>(StringComparer.Ordinal);
        foreach (var t in kind.Transitions)
        {
            lines.Add($"{t.From?.Name ?? "[*]"} --> {t.To.Name} : {t.Event}");
            if (t.To.IsTerminal) lines.Add($"{t.To.Name} --> [*]");
        }
        return lines;
    }

    /// <summary>Every mermaid state diagram of <paramref name="doc"/> by the kind its <c>%% kind:</c> line names.</summary>
    private static Dictionary<string, SortedSet<string>> Diagrams(string doc)
    {
        var diagrams = new Dictionary<string, SortedSet<string>>(StringComparer.Ordinal);
        foreach (Match block in MermaidBlock().Matches(doc))
        {
            var body = block.Groups[1].Value.Split('\n').Select(l => l.Trim()).Where(l => l.Length > 0).ToList();
            if (body[0] != "stateDiagram-v2") continue;
            var kind = body.FirstOrDefault(l => l.StartsWith("%% kind:", StringComparison.Ordinal))?["%% kind:".Length..].Trim()
                ?? throw new InvalidDataException($"a state diagram in docs/lifecycles.md names no kind: {body.ElementAtOrDefault(1)}");
            diagrams.Add(kind, new SortedSet<string>(body.Skip(1).Where(l => !l.StartsWith("%%", StringComparison.Ordinal)), StringComparer.Ordinal));
        }
        return diagrams;
    }

    [GeneratedRegex("```mermaid\\n(.*?)```", RegexOptions.Singleline)]
    private static partial Regex MermaidBlock();
}
