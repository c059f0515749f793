using System.CommandLine;
using BufferActors.Host;
using BufferActors.Host.Commands;

var root = new RootCommand("BufferActors: actor-managed lifecycles of Xen gntdev dma-bufs (export, wait, import) on Linux or on the simulator.");
foreach (var command in DemoCommand.Create()) root.Subcommands.Add(command);
root.Subcommands.Add(BenchCommand.Create());
root.Subcommands.Add(SimulatorCommands.Create());
root.Subcommands.Add(BufferActors.Host.Simulate.SimulateCommand.Create());
root.Subcommands.Add(BufferActors.Host.Simulate.CrashWorkload.Create());
root.Subcommands.Add(CrashTargetCommand.Create());
root.Subcommands.Add(ReplayCommand.Create());
return root.Parse(args).Invoke();
