using System.Globalization;
using FastConv.Nn;
using FastConv.Nn.Distributed;
using Spectre.Console;

namespace FastConv.Cli;

/// <summary>
/// `mpirun -np N fastconv train …`: one process per rank, data-parallel over MPI (FastConv.Nn.Distributed). Only rank 0
/// prints and writes; an error on any rank is printed with its rank and ends the whole job (MPI_Abort), never a hang.
/// </summary>
internal static class DistributedTrain
{
    public const string Help =
        "Train data-parallel over the processes of an MPI job (mpirun -np N fastconv train ...; on by default when started by " +
        "mpirun or another MPI launcher). --batch stays the global batch, split evenly over the processes; each reads its own " +
        "shard of every batch, gradients are averaged (allreduce) before every step; batch-norm statistics stay per process, " +
        "as with PyTorch DDP's default; only rank 0 prints and writes the run folder. Threads per process default to the " +
        "cores divided by the processes on the machine.";

    /// <summary>Starts MPI when asked; null for a run in one process (MPI is then never loaded).</summary>
    public static MpiCommunicator? Start(bool distributed, bool threadsGiven)
    {
        if (!distributed) return null;
        var comm = MpiCommunicator.Initialize();
        if (comm.Rank != 0)
        {
            Console.SetOut(TextWriter.Null);
            AnsiConsole.Console = AnsiConsole.Create(new AnsiConsoleSettings { Out = new AnsiConsoleOutput(TextWriter.Null) });
        }
        // Two processes with all cores each would fight over them: share the machine's cores unless told otherwise.
        if (!threadsGiven && string.IsNullOrWhiteSpace(Environment.GetEnvironmentVariable("FASTCONV_THREADS")))
            Parallelism.Threads = Math.Max(1, Environment.ProcessorCount / (MpiCommunicator.LocalSize() ?? 1));
        return comm;
    }

    /// <summary>Runs <paramref name="train"/>; with several ranks an exception is reported with the rank and ends the job.</summary>
    public static int Run(MpiCommunicator? comm, Func<int> train)
    {
        if (comm is null) return train();
        int rc;
        try { rc = train(); }
        catch (Exception e) when (comm.Size > 1)
        {
            string what = Commands.IsUserError(e) || e is CommunicationException ? Commands.OneLine(e) : e.ToString();
            Console.Error.WriteLine($"fastconv: error: rank {comm.Rank} of {comm.Size}: {what}");
            Console.Error.WriteLine($"fastconv: ending all {comm.Size} processes of the job (MPI_Abort).");
            comm.Abort(rc = 1);
        }
        if (rc != 0 && comm.Size > 1) comm.Abort(rc);
        comm.Dispose();
        return rc;
    }

    /// <summary>The line under the run's header: processes, threads, batch split, the weights' hash, the buckets.</summary>
    public static void Describe(TrainingRun run, MpiCommunicator comm)
    {
        var p = run.Trainer.Parallel;
        if (p is null) return;
        double mb = p.FloatsPerStep * 4 / 1e6;
        AnsiConsole.MarkupLine($"  data parallel: [bold]{p.Size} processes[/] × {Parallelism.Threads} thread(s) ({Markup.Escape(comm.LibraryVersion)}); " +
            $"global batch {run.Settings.Batch} = {p.Size} × {run.Trainer.BatchSize}; weights broadcast from rank 0, identical on every rank " +
            $"(SHA-256 {run.InitialWeightsHash![..16]}…); {p.FloatsPerStep:N0} floats ({mb.ToString("0.###", CultureInfo.InvariantCulture)} MB) " +
            $"allreduced per step in {p.Buckets.Count} bucket(s); batch-norm statistics per process");
    }

    /// <summary>After the run: the allreduce's share of a training step, measured on rank 0.</summary>
    public static void Report(TrainingRun run, int epochsBefore)
    {
        var p = run.Trainer.Parallel;
        if (p is null || p.Reductions == 0) return;
        double trainSeconds = run.Trainer.History.Skip(epochsBefore).Sum(m => m.Seconds);
        double step = trainSeconds / p.Reductions, allreduce = p.AllreduceSeconds / p.Reductions, reduce = p.ReduceSeconds / p.Reductions;
        AnsiConsole.MarkupLine($"Allreduce (rank 0): [bold]{allreduce * 1e3:0.000} ms[/] per step in MPI, {reduce * 1e3:0.000} ms with packing, " +
            $"of a {step * 1e3:0.00} ms step ({allreduce / step:P1} / {reduce / step:P1}); {p.Reductions} steps, " +
            $"{p.FloatsPerStep * 4 / 1e6 / allreduce:N0} MB/s of gradients.");
    }
}
