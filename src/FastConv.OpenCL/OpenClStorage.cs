using System.Runtime.InteropServices;
using FastConv.OpenCL.Cl;

namespace FastConv.OpenCL;

/// <summary>A tensor's device buffer. It stays resident; data crosses only through <see cref="Write"/> and <see cref="Read"/>
/// (Tensor.CopyFrom, ToArray, To(backend)). Zero-filled when allocated, like host storage.</summary>
public sealed class OpenClStorage : TensorStorage
{
    internal OpenClStorage(OpenClBackend backend, long length)
    {
        Backend = backend;
        Length = length;
        Mem = backend.Runtime.CreateBuffer(checked(Math.Max(length, 1) * sizeof(float)), $"a tensor of {length:N0} floats");
    }

    public OpenClBackend Backend { get; }
    internal ClMem Mem { get; }
    public override long Length { get; }
    public override bool IsDisposed => Mem.IsClosed;

    public override void Write(ReadOnlySpan<float> source, long offset)
    {
        Check(offset, source.Length);
        Backend.Runtime.Write(Mem, offset * sizeof(float), MemoryMarshal.AsBytes(source));
    }

    public override void Read(long offset, Span<float> destination)
    {
        Check(offset, destination.Length);
        Backend.Runtime.Read(Mem, offset * sizeof(float), MemoryMarshal.AsBytes(destination));
    }

    private void Check(long offset, int count)
    {
        ObjectDisposedException.ThrowIf(IsDisposed, this);
        Backend.ThrowIfDisposed();
        if (offset < 0 || offset + count > Length)
            throw new ArgumentOutOfRangeException(nameof(offset), offset, $"OpenCL storage: [{offset}, {offset + count}) is outside its {Length} floats.");
    }

    public override void Dispose() => Mem.Dispose();
}
