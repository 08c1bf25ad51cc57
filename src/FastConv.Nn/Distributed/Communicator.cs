using System.Runtime.InteropServices;

namespace FastConv.Nn.Distributed;

/// <summary>
/// The collectives data-parallel training needs, over the processes of one job: in-place sums and broadcasts of
/// float buffers. <see cref="MpiCommunicator"/> is the one over MPI; every rank must make the same calls in the same
/// order with the same lengths.
/// </summary>
public interface ICommunicator : IDisposable
{
    int Rank { get; }
    int Size { get; }
    /// <summary>data[i] = the sum over ranks of data[i], in place.</summary>
    void AllreduceSum(Span<float> data);
    /// <summary>data = <paramref name="root"/>'s data on every rank, in place.</summary>
    void Broadcast(Span<float> data, int root = 0);
    void Barrier();
    /// <summary>Ends every process of the job with <paramref name="code"/> (after an error on this rank); does not return.</summary>
    void Abort(int code);
}

/// <summary>An MPI failure or a collective that did not complete within its deadline; the job should end (Abort).</summary>
public sealed class CommunicationException(string message) : Exception(message);

/// <summary>
/// MPI_COMM_WORLD through libfastconv_mpi.so (native/include/fastconv_mpi.h), built by CMake when Open MPI is installed.
/// One per process: <see cref="Initialize"/> calls MPI_Init_thread, <see cref="Dispose"/> MPI_Finalize.
/// </summary>
public sealed partial class MpiCommunicator : ICommunicator
{
    private const string Library = "libfastconv_mpi";
    private static MpiCommunicator? _instance;
    private bool _disposed;

    private MpiCommunicator(int rank, int size) { Rank = rank; Size = size; }

    public int Rank { get; }
    public int Size { get; }
    /// <summary>"Open MPI v4.1.4, package: Debian OpenMPI, …": the MPI library this job runs on.</summary>
    public string LibraryVersion => Marshal.PtrToStringUTF8(fc_mpi_library_version()) ?? "";

    /// <summary>Seconds a collective may take before it fails with a <see cref="CommunicationException"/>
    /// (FASTCONV_MPI_TIMEOUT at start, default 300).</summary>
    public double Timeout
    {
        get => fc_mpi_get_timeout();
        set => Check(fc_mpi_set_timeout(value), "set the timeout", argument: true);
    }

    /// <summary>
    /// Whether this process was started by an MPI launcher (mpirun, mpiexec, srun): the variables Open MPI's, PMIx's,
    /// MPICH's (PMI) and Slurm's launchers set. Without one, training stays in one process and MPI is never loaded.
    /// </summary>
    public static bool LaunchedByMpi(Func<string, string?>? getenv = null)
    {
        getenv ??= Environment.GetEnvironmentVariable;
        return new[] { "OMPI_COMM_WORLD_SIZE", "PMIX_RANK", "PMI_SIZE", "PMI_RANK" }.Any(v => !string.IsNullOrEmpty(getenv(v)));
    }

    /// <summary>Processes of this job on this machine (OMPI_COMM_WORLD_LOCAL_SIZE, else MPI_LOCALNRANKS), or null.</summary>
    public static int? LocalSize(Func<string, string?>? getenv = null)
    {
        getenv ??= Environment.GetEnvironmentVariable;
        foreach (var v in new[] { "OMPI_COMM_WORLD_LOCAL_SIZE", "MPI_LOCALNRANKS" })
            if (int.TryParse(getenv(v), out int n) && n >= 1) return n;
        return null;
    }

    /// <summary>Starts MPI (once per process; later calls return the same communicator). Throws a
    /// <see cref="BackendUnavailableException"/> naming what to install when libfastconv_mpi.so is missing.</summary>
    public static MpiCommunicator Initialize()
    {
        if (_instance is { _disposed: false }) return _instance;
        if (_instance is not null) throw new InvalidOperationException("MPI was finalized in this process; it cannot start again.");
        try { Check(fc_mpi_init(), "start", argument: false); }
        catch (Exception e) when (e is DllNotFoundException or EntryPointNotFoundException)
        {
            throw new BackendUnavailableException(
                "distributed training needs libfastconv_mpi.so, which CMake builds only when MPI is installed: " +
                $"apt-get install openmpi-bin libopenmpi-dev, then rebuild ({e.Message.Split('\n')[0].TrimEnd()})");
        }
        return _instance = new MpiCommunicator(fc_mpi_rank(), fc_mpi_size());
    }

    public void AllreduceSum(Span<float> data)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        Check(fc_mpi_allreduce_sum_f32(ref MemoryMarshal.GetReference(data), data.Length), "allreduce", argument: false);
    }

    public void Broadcast(Span<float> data, int root = 0)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        if (root < 0 || root >= Size) throw new ArgumentOutOfRangeException(nameof(root), root, $"Broadcast: root {root} is not a rank of this job (0 to {Size - 1}).");
        Check(fc_mpi_broadcast_f32(ref MemoryMarshal.GetReference(data), data.Length, root), "broadcast", argument: false);
    }

    public void Barrier()
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        Check(fc_mpi_barrier(), "barrier", argument: false);
    }

    public void Abort(int code)
    {
        Console.Out.Flush();
        Console.Error.Flush();
        fc_mpi_abort(code);
    }

    /// <summary>MPI_Finalize: call it on every rank after the last collective.</summary>
    public void Dispose()
    {
        if (_disposed) return;
        _disposed = true;
        Check(fc_mpi_finalize(), "finalize", argument: false);
    }

    private static void Check(int status, string what, bool argument)
    {
        if (status == 0) return;
        string message = Marshal.PtrToStringUTF8(fc_mpi_last_error()) is { Length: > 0 } m ? m : $"MPI {what} failed with status {status}";
        if (argument || status == 1) throw new ArgumentException(message);
        throw new CommunicationException(message);
    }

    [LibraryImport(Library)] private static partial int fc_mpi_init();
    [LibraryImport(Library)] private static partial int fc_mpi_finalize();
    [LibraryImport(Library)] private static partial int fc_mpi_rank();
    [LibraryImport(Library)] private static partial int fc_mpi_size();
    [LibraryImport(Library)] private static partial int fc_mpi_allreduce_sum_f32(ref float data, long count);
    [LibraryImport(Library)] private static partial int fc_mpi_broadcast_f32(ref float data, long count, int root);
    [LibraryImport(Library)] private static partial int fc_mpi_barrier();
    [LibraryImport(Library)] private static partial int fc_mpi_set_timeout(double seconds);
    [LibraryImport(Library)] private static partial double fc_mpi_get_timeout();
    [LibraryImport(Library)] private static partial void fc_mpi_abort(int code);
    [LibraryImport(Library)] private static partial IntPtr fc_mpi_library_version();
    [LibraryImport(Library)] private static partial IntPtr fc_mpi_last_error();
}
