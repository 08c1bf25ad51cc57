using FastConv.OpenCL.Cl;

namespace FastConv.OpenCL;

/// <summary>
/// What an OpenCL plan asks of its device, checked before it creates anything: every kernel's 32-bit index fits
/// (<see cref="Unsupported(in Conv2dDesc, OpenClConvPath)"/>), and the plan's buffers fit the device's
/// CL_DEVICE_MAX_MEM_ALLOC_SIZE one by one and its CL_DEVICE_GLOBAL_MEM_SIZE together (CheckMemory).
/// A runtime may abort the process when an allocation fails (PoCL under an address-space limit, issue 19), so the
/// plan says what it needs instead of asking.
/// <para>The audit of opencl/*.cl for the shapes <see cref="Limits"/> admits: offsets of whole tensors are longs;
/// in-image offsets, coordinates and reductions are ints within Limits' bounds (C·H·W, K·OH·OW, C·R·S and H + 2·pad
/// are at most 2^31 − 1). What is left are the work-item ids and tile origins that range over a product or a rounded-up
/// extent: N·C and N·K planes (pooling, the gather backward-data, the zero-bordered copies), N·⌈K/KT⌉ work-item
/// columns of the direct forward kernels, the 16-column chunks (OW rounded up, and the backward-filter loop's
/// ow0 += 16), and the GEMM tiles' origins (P, C·R·S and K rounded up to 64). Those are refused here. The lane
/// coordinates of gather16 and the covering windows of pooling backward are computed in longs in the kernels.</para>
/// </summary>
internal static class OpenClPlanLimits
{
    /// <summary>Headroom above a 16-column chunk or a 64-wide tile origin: the global size is rounded up to the local size.</summary>
    private const long Round = 128;

    /// <summary>Why the OpenCL kernels cannot index <paramref name="d"/> on <paramref name="path"/>, or null.</summary>
    public static string? Unsupported(in Conv2dDesc d, OpenClConvPath path)
    {
        var checks = new List<(string What, long Value)> { ("N*C (planes of the backward-data gather)", (long)d.N * d.C) };
        if (path == OpenClConvPath.Gemm)
        {
            checks.Add(("OH*OW rounded up to a tile", (long)d.OutH * d.OutW + Round));
            checks.Add(("N*OH*OW (the backward-filter reduction, in per-split ints)", (long)d.N * d.OutH * d.OutW + Round));
            checks.Add(("C*R*S rounded up to a tile", d.ReductionLength + Round));
            checks.Add(("K rounded up to a tile", d.K + Round));
        }
        else
        {
            // N*ceil(K/KT) work-item columns of the forward kernels (N*ceil(C/KT) for backward-data) are at most these
            checks.Add(("N*K (planes of the zero-bordered output gradient, columns of the forward kernel)", (long)d.N * d.K));
            checks.Add(("OW rounded up to 16-column chunks", (long)d.OutW + Round));
            checks.Add(("OH rounded up to 4-row work-items", (long)d.OutH + Round));
            checks.Add(("H rounded up to 4-row work-items (backward-data as a forward convolution)", (long)d.H + Round));
            checks.Add(("W rounded up to 16-column chunks (backward-data as a forward convolution)", (long)d.W + Round));
        }
        foreach (var (what, value) in checks)
            if (value > int.MaxValue)
                return $"OpenCL ({path.ToString().ToLowerInvariant()} path) cannot run {d}: {what} = {value:N0} exceeds 2^31 - 1, and its kernels index it in 32 bits; use the native or managed backend.";
        return null;
    }

    /// <summary>Why the OpenCL pooling kernels cannot index <paramref name="d"/>, or null.</summary>
    public static string? Unsupported(in Pool2dDesc d)
    {
        long planes = (long)d.N * d.C;
        return planes > int.MaxValue
            ? $"OpenCL cannot run {d}: N*C = {planes:N0} planes exceeds 2^31 - 1, and its kernels index planes in 32 bits; use the native or managed backend."
            : null;
    }

    /// <summary>4 bytes times the product of <paramref name="factors"/>, or long.MaxValue when that does not fit a long
    /// (it then exceeds every device).</summary>
    public static long FloatBytes(params ReadOnlySpan<long> factors)
    {
        Int128 p = 4;
        foreach (long f in factors)
        {
            p *= Math.Max(f, 0);
            if (p > long.MaxValue) return long.MaxValue;
        }
        return (long)p;
    }

    /// <summary>Throws OutOfMemoryException, naming <paramref name="shape"/> (what needs the buffers: "the plan for Conv2d(…)", "a tensor [2, 3]"), the buffer, its bytes and the limit, when one
    /// of <paramref name="buffers"/> exceeds <paramref name="maxAllocation"/> or all of them together exceed
    /// <paramref name="globalMemory"/>.</summary>
    public static void CheckMemory(string shape, string device, long maxAllocation, long globalMemory, IReadOnlyList<(string What, long Bytes)> buffers)
    {
        foreach (var (what, bytes) in buffers)
            if (bytes > maxAllocation)
                throw new OutOfMemoryException($"OpenCL: {shape} needs {Size(bytes)} for its {what}, more than {device} allocates at once " +
                                               $"(CL_DEVICE_MAX_MEM_ALLOC_SIZE = {Size(maxAllocation)}).");
        long total = buffers.Sum(b => b.Bytes);   // each at most maxAllocation: no overflow for a handful
        if (total > globalMemory)
            throw new OutOfMemoryException($"OpenCL: {shape} needs {Size(total)} of buffers in all " +
                                           $"({string.Join(", ", buffers.Select(b => $"{b.What} {Size(b.Bytes)}"))}), more than {device} has " +
                                           $"(CL_DEVICE_GLOBAL_MEM_SIZE = {Size(globalMemory)}).");
    }

    /// <summary>CheckMemory against <paramref name="device"/>'s limits.</summary>
    public static void CheckMemory(string shape, OpenClDeviceInfo device, IReadOnlyList<(string What, long Bytes)> buffers) =>
        CheckMemory(shape, device.Name, device.MaxAllocation, device.GlobalMemory, buffers);

    /// <summary>Whether <paramref name="buffers"/> fit <paramref name="device"/> (as CheckMemory, without throwing).</summary>
    public static bool Fits(OpenClDeviceInfo device, IEnumerable<(string What, long Bytes)> buffers)
    {
        long total = 0;
        foreach (var (_, bytes) in buffers)
        {
            if (bytes > device.MaxAllocation) return false;
            total += bytes;
        }
        return total <= device.GlobalMemory;
    }

    private static string Size(long bytes) => bytes == long.MaxValue ? "more than 2^63 bytes" : $"{bytes:N0} bytes";
}
