using System.Runtime.InteropServices;

namespace FastConv.Backends.Managed;

/// <summary>
/// Per-thread scratch buffers that grow and are then reused for the thread's life, so steady-state calls
/// touch no new pages (this VM pays ≈12 µs per first-touched 4 KiB page). Slots keep different uses apart.
/// </summary>
internal static unsafe class Scratch
{
    public enum Slot { PackA, PackB, Columns, Tile, Reduce, Elementwise, Count }

    [ThreadStatic] private static Buffer?[]? _slots;

    public static float* Get(Slot slot, long floats)
    {
        var slots = _slots ??= new Buffer?[(int)Slot.Count];
        var b = slots[(int)slot];
        if (b is null || b.Capacity < floats)
        {
            b?.Dispose();
            b = slots[(int)slot] = new Buffer(Math.Max(floats, (b?.Capacity ?? 0) * 3 / 2));
        }
        return b.Pointer;
    }

    private sealed class Buffer : SafeHandle
    {
        public Buffer(long floats) : base(IntPtr.Zero, true)
        {
            Capacity = Math.Max(floats, 16);
            SetHandle((IntPtr)NativeMemory.AlignedAlloc((nuint)(Capacity * sizeof(float)), 64));
        }

        public long Capacity { get; }
        public float* Pointer => (float*)handle;
        public override bool IsInvalid => handle == IntPtr.Zero;

        protected override bool ReleaseHandle()
        {
            NativeMemory.AlignedFree((void*)handle);
            return true;
        }
    }
}
