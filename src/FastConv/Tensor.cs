using System.Runtime.InteropServices;

namespace FastConv;

/// <summary>
/// An NCHW float32 tensor: a shape and a storage owned by a backend.
/// Host tensors (reference, managed, native) share one storage type,
/// <see cref="HostStorage"/>, so any host backend uses them without a copy.
/// </summary>
public sealed class Tensor : IDisposable
{
    private readonly int[] _shape;
    private readonly bool _ownsStorage;

    /// <summary>A tensor of <paramref name="backend"/> that owns <paramref name="storage"/>: what a backend's Allocate returns.</summary>
    public Tensor(IBackend backend, TensorStorage storage, int[] shape) : this(backend, storage, shape, ownsStorage: true) { }

    internal Tensor(IBackend backend, TensorStorage storage, int[] shape, bool ownsStorage)
    {
        Backend = backend;
        Storage = storage;
        _shape = shape;
        _ownsStorage = ownsStorage;
        Length = ShapeMath.ElementCount(shape, "Tensor");
        if (Length > storage.Length)
            throw new ArgumentException($"Tensor: shape {ShapeMath.Format(shape)} needs {Length} elements but the storage holds {storage.Length}.");
    }

    /// <summary>The backend that allocated this tensor.</summary>
    public IBackend Backend { get; }
    public TensorStorage Storage { get; }
    public ReadOnlySpan<int> Shape => _shape;
    public int Rank => _shape.Length;
    public long Length { get; }
    public int Dim(int axis) => _shape[axis];
    public bool IsHost => Storage is HostStorage;
    public bool IsDisposed => Storage.IsDisposed;

    /// <summary>The elements of a host tensor, in place. Throws for device tensors.</summary>
    public Span<float> Span => HostStorage.Span(Length);

    /// <summary>The host storage, or an exception that names why there is none.</summary>
    public HostStorage HostStorage => Storage as HostStorage ?? throw new InvalidOperationException(
        $"Tensor {ShapeMath.Format(_shape)} lives on backend '{Backend.Name}', not in host memory; use ToArray() or To(backend).");

    public void CopyFrom(ReadOnlySpan<float> source)
    {
        if (source.Length != Length)
            throw new ArgumentException($"Tensor.CopyFrom: source has {source.Length} elements, tensor {ShapeMath.Format(_shape)} has {Length}.", nameof(source));
        Storage.Write(source, 0);
    }

    public void CopyTo(Span<float> destination)
    {
        if (destination.Length != Length)
            throw new ArgumentException($"Tensor.CopyTo: destination has {destination.Length} elements, tensor {ShapeMath.Format(_shape)} has {Length}.", nameof(destination));
        Storage.Read(0, destination);
    }

    public float[] ToArray()
    {
        if (Length > Array.MaxLength) throw new InvalidOperationException($"Tensor {ShapeMath.Format(_shape)} has {Length} elements, more than an array holds.");
        var a = new float[Length];
        Storage.Read(0, a);
        return a;
    }

    /// <summary>A tensor on <paramref name="backend"/> with the same shape and contents (a copy, even between host backends).</summary>
    public Tensor To(IBackend backend)
    {
        var t = backend.Allocate(_shape);
        if (IsHost && t.IsHost) Span.CopyTo(t.Span);
        else t.CopyFrom(ToArray());
        return t;
    }

    /// <summary>A view with another shape of the same element count, sharing this tensor's storage (e.g. flatten N,C,H,W to N,C·H·W).</summary>
    public Tensor Reshape(params int[] shape)
    {
        long n = ShapeMath.ElementCount(shape, "Tensor.Reshape");
        if (n != Length)
            throw new ArgumentException($"Tensor.Reshape: {ShapeMath.Format(_shape)} has {Length} elements, {ShapeMath.Format(shape)} has {n}.", nameof(shape));
        return new Tensor(Backend, Storage, (int[])shape.Clone(), ownsStorage: false);
    }

    public override string ToString() => $"Tensor{ShapeMath.Format(_shape)} on {Backend.Name}";

    public void Dispose()
    {
        if (_ownsStorage) Storage.Dispose();
    }
}

/// <summary>Memory behind a tensor: host memory or a device buffer.</summary>
public abstract class TensorStorage : IDisposable
{
    public abstract long Length { get; }
    public abstract bool IsDisposed { get; }
    public abstract void Write(ReadOnlySpan<float> source, long offset);
    public abstract void Read(long offset, Span<float> destination);
    public abstract void Dispose();
}

/// <summary>64-byte-aligned native memory, zero-filled, shared by every host backend.</summary>
public sealed unsafe class HostStorage : TensorStorage
{
    public const int Alignment = 64;
    private readonly HostMemoryHandle _handle;

    public HostStorage(long length)
    {
        if (length < 0) throw new ArgumentOutOfRangeException(nameof(length), length, "HostStorage: length must be >= 0.");
        long bytes = checked(Math.Max(length, 1) * sizeof(float));
        _handle = HostMemoryHandle.Allocate(bytes);
        Length = length;
        NativeMemory.Clear((void*)_handle.DangerousGetHandle(), (nuint)bytes);
        Interlocked.Increment(ref _allocations);
    }

    private static long _allocations;

    /// <summary>How many host storages this process has allocated: lets a test show that a training step in steady state allocates none.</summary>
    public static long Allocations => Interlocked.Read(ref _allocations);

    public override long Length { get; }
    public override bool IsDisposed => _handle.IsClosed;

    /// <summary>The first element. Valid while the storage is not disposed.</summary>
    public float* Pointer
    {
        get
        {
            ObjectDisposedException.ThrowIf(_handle.IsClosed, this);
            return (float*)_handle.DangerousGetHandle();
        }
    }

    public Span<float> Span(long length)
    {
        if (length > int.MaxValue) throw new InvalidOperationException($"HostStorage: {length} elements do not fit in one Span; use Pointer.");
        return new Span<float>(Pointer, (int)length);
    }

    public override void Write(ReadOnlySpan<float> source, long offset)
    {
        if (offset < 0 || offset + source.Length > Length) throw new ArgumentOutOfRangeException(nameof(offset));
        source.CopyTo(new Span<float>(Pointer + offset, source.Length));
    }

    public override void Read(long offset, Span<float> destination)
    {
        if (offset < 0 || offset + destination.Length > Length) throw new ArgumentOutOfRangeException(nameof(offset));
        new ReadOnlySpan<float>(Pointer + offset, destination.Length).CopyTo(destination);
    }

    public override void Dispose() => _handle.Dispose();
}

internal sealed unsafe class HostMemoryHandle : SafeHandle
{
    private HostMemoryHandle() : base(IntPtr.Zero, ownsHandle: true) { }

    public override bool IsInvalid => handle == IntPtr.Zero;

    private const long HugePage = 2 << 20;

    /// <summary>64-byte aligned; from 2 MiB up, 2 MiB aligned and marked for transparent huge pages on Linux (madvise),
    /// so touching a large tensor costs one page fault per 2 MiB instead of one per 4 KiB (≈ 12 µs each on this VM).</summary>
    public static HostMemoryHandle Allocate(long bytes)
    {
        var h = new HostMemoryHandle();
        void* p;
        bool huge = bytes >= HugePage && OperatingSystem.IsLinux();
        long size = huge ? (bytes + HugePage - 1) / HugePage * HugePage : bytes;
        try { p = NativeMemory.AlignedAlloc((nuint)size, huge ? (nuint)HugePage : HostStorage.Alignment); }
        catch (OutOfMemoryException) { throw new OutOfMemoryException($"HostStorage: cannot allocate {bytes} bytes."); }
        if (huge) _ = LibC.madvise(p, (nuint)size, LibC.MADV_HUGEPAGE);   // advice only: without THP it changes nothing
        h.SetHandle((IntPtr)p);
        return h;
    }

    protected override bool ReleaseHandle()
    {
        NativeMemory.AlignedFree((void*)handle);
        return true;
    }
}

internal static unsafe partial class LibC
{
    public const int MADV_HUGEPAGE = 14;

    [System.Runtime.InteropServices.LibraryImport("libc", SetLastError = false)]
    public static partial int madvise(void* addr, nuint length, int advice);
}
