using System.CommandLine;
using BufferActors.Campaigns;

// The test rig's executable: the crash campaign and the child hosts it and the kill-and-restart tests kill.
var root = new RootCommand("BufferActors campaigns: the crash campaign and its child hosts (crash-target, crash-workload).");
root.Subcommands.Add(CrashCampaignCommand.Create());
root.Subcommands.Add(CrashWorkload.Create());
root.Subcommands.Add(CrashTargetCommand.Create());
return root.Parse(args).Invoke();
