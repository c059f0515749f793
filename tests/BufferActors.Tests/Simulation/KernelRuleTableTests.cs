using System.Reflection;
using System.Text.RegularExpressions;
using BufferActors.Conformance;

namespace BufferActors.Tests.Simulation;

/// <summary>
/// docs/simulator.md's "Kernel rule → simulator test" table names only tests and lane cases that exist, and
/// every row names at least one test: the table cannot drift from the code.
/// </summary>
public sealed partial class KernelRuleTableTests
{
    [Fact]
    public void EveryRowNamesExistingTests_AndExistingLaneCases()
    {
        var rows = TableRows(File.ReadAllText(RepositoryFiles.Path("docs/simulator.md")));
        Assert.True(rows.Count >= 40, $"only {rows.Count} rows in the kernel-rule table");
        var cases = Suite.Cases.Select(c => c.Name).ToHashSet();
        var testTypes = typeof(KernelRuleTableTests).Assembly.GetTypes().GroupBy(t => t.Name).ToDictionary(g => g.Key, g => g.ToList());
        foreach (var row in rows)
        {
            var tests = TestName().Matches(row.Tests).Select(m => (Type: m.Groups[1].Value, Method: m.Groups[2].Value)).ToList();
            Assert.True(tests.Count > 0, $"the row for {row.Function} names no test");
            foreach (var (type, method) in tests)
            {
                Assert.True(testTypes.TryGetValue(type, out var candidates), $"{row.Function}: no test class {type}");
                var found = candidates!.Select(t => t.GetMethod(method, BindingFlags.Public | BindingFlags.Instance)).FirstOrDefault(m => m is not null);
                Assert.True(found is not null, $"{row.Function}: no test {type}.{method}");
                Assert.True(found!.GetCustomAttributes<FactAttribute>().Any(), $"{type}.{method} is not a test");
            }
            foreach (Match lane in LaneCase().Matches(row.LaneCases))
                Assert.True(cases.Contains(lane.Groups[1].Value), $"{row.Function}: no lane case {lane.Groups[1].Value}");
        }
    }

    private sealed record Row(string Function, string Tests, string LaneCases);

    /// <summary>The rows of the tables under "## Kernel rule → simulator test", up to the next level-2 heading.</summary>
    private static List<Row> TableRows(string markdown)
    {
        var rows = new List<Row>();
        bool inSection = false;
        foreach (var line in markdown.Split('\n'))
        {
            if (line.StartsWith("## ", StringComparison.Ordinal)) inSection = line.StartsWith("## Kernel rule → simulator test", StringComparison.Ordinal);
            else if (inSection && line.StartsWith("| `", StringComparison.Ordinal) || inSection && line.StartsWith("| domain", StringComparison.Ordinal))
            {
                var cells = line.Split('|');
                Assert.True(cells.Length == 6, $"a row of the kernel-rule table does not have four columns: {line}");
                rows.Add(new Row(cells[1].Trim(), cells[3], cells[4]));
            }
        }
        return rows;
    }

    [GeneratedRegex(@"`([A-Z][A-Za-z0-9]+)\.([A-Za-z0-9_]+)`")]
    private static partial Regex TestName();

    [GeneratedRegex(@"`([a-z0-9]+(?:-[a-z0-9]+)+)`")]
    private static partial Regex LaneCase();
}
