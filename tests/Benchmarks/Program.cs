using System.CommandLine;
using BufferActors.Benchmarks;

// dotnet run -c Release --project tests/Benchmarks -- NAME [options]: the measurements docs/performance.md quotes.
var root = new RootCommand("BufferActors benchmarks: figures for docs/performance.md, as ratios against a baseline measured in the same run.");
root.Options.Add(BenchReport.JsonOption);
foreach (var command in BenchCommand.Create()) root.Subcommands.Add(command);
return root.Parse(args).Invoke();
