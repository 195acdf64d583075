using KvTier.Storage;
using Spectre.Console;

namespace KvTier.Cli.Stores;

/// <summary>
/// Shows a long store operation (compaction, verification, repair) as a progress bar when the console is a terminal,
/// and shows nothing otherwise: logs and pipes get only the result lines the command prints afterwards.
/// </summary>
internal static class StoreProgressDisplay
{
    /// <summary>Runs <paramref name="operation"/>, handing it a progress sink when a bar can be shown, else null.</summary>
    public static T Run<T>(IAnsiConsole console, string description, Func<IProgress<StoreProgress>?, T> operation)
    {
        if (!console.Profile.Capabilities.Interactive)
            return operation(null);
        T result = default!;
        console.Progress()
            .AutoClear(false)
            .Columns(new TaskDescriptionColumn(), new ProgressBarColumn(), new PercentageColumn(), new RemainingTimeColumn())
            .Start(context =>
            {
                ProgressTask task = context.AddTask(Markup.Escape(description), maxValue: 1);
                result = operation(new Sink(task));
                task.Value = task.MaxValue;
                task.StopTask();
            });
        return result;
    }

    /// <summary>
    /// Moves the bar. The store reports from its writer thread (compaction) or the caller's (verify, repair);
    /// <see cref="ProgressTask"/> guards its own state, so reports need no lock here.
    /// </summary>
    private sealed class Sink(ProgressTask task) : IProgress<StoreProgress>
    {
        public void Report(StoreProgress value)
        {
            if (value.Total > 0)
                task.MaxValue = value.Total;
            task.Value = Math.Clamp(value.Done, 0, task.MaxValue);
        }
    }
}
