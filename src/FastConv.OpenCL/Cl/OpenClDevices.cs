using System.Text;
using Silk.NET.OpenCL;

namespace FastConv.OpenCL.Cl;

/// <summary>One OpenCL device as discovery reports it.</summary>
public sealed record OpenClDeviceInfo(int Index, string Platform, string Name, string Version, string CVersion, int ComputeUnits,
                                      long GlobalMemory, long MaxAllocation, long LocalMemory, long MaxWorkGroupSize)
{
    internal nint PlatformId { get; init; }
    /// <summary>CL_DEVICE_TYPE_CPU (PoCL's pthread device, for example).</summary>
    public bool IsCpu { get; init; }
    internal nint DeviceId { get; init; }
    public override string ToString() =>
        $"#{Index} {Name} ({Platform}; {Version}; {CVersion}; {ComputeUnits} compute units, {GlobalMemory / (1 << 20):N0} MiB)";
}

/// <summary>Platform and device discovery, and the choice of one device (index or part of its name; FASTCONV_OPENCL_DEVICE).</summary>
public static unsafe class OpenClDevices
{
    /// <summary>Every device of every platform, numbered in discovery order. Empty when there is no platform.</summary>
    public static IReadOnlyList<OpenClDeviceInfo> List()
    {
        var cl = ClApi.Cl;
        uint count;
        int rc = cl.GetPlatformIDs(0, null, &count);
        if (rc == -1001 || count == 0) return [];          // CL_PLATFORM_NOT_FOUND_KHR: the ICD loader found no driver
        ClError.Check(rc, "clGetPlatformIDs");
        var platforms = new nint[count];
        fixed (nint* p = platforms) ClError.Check(cl.GetPlatformIDs(count, p, null), "clGetPlatformIDs");
        var result = new List<OpenClDeviceInfo>();
        foreach (var platform in platforms)
        {
            uint n;
            rc = cl.GetDeviceIDs(platform, DeviceType.All, 0, null, &n);
            if (rc == -1 || n == 0) continue;               // CL_DEVICE_NOT_FOUND
            ClError.Check(rc, "clGetDeviceIDs");
            var devices = new nint[n];
            fixed (nint* d = devices) ClError.Check(cl.GetDeviceIDs(platform, DeviceType.All, n, d, null), "clGetDeviceIDs");
            string pname = PlatformString(platform, PlatformInfo.Name);
            foreach (var d in devices)
                result.Add(new OpenClDeviceInfo(result.Count, pname, DeviceString(d, DeviceInfo.Name), DeviceString(d, DeviceInfo.Version),
                    CVersion(d), (int)DeviceValue<uint>(d, DeviceInfo.MaxComputeUnits),
                    (long)DeviceValue<ulong>(d, DeviceInfo.GlobalMemSize), (long)DeviceValue<ulong>(d, DeviceInfo.MaxMemAllocSize),
                    (long)DeviceValue<ulong>(d, DeviceInfo.LocalMemSize), (long)DeviceValue<nuint>(d, DeviceInfo.MaxWorkGroupSize))
                { PlatformId = platform, DeviceId = d, IsCpu = (DeviceValue<ulong>(d, DeviceInfo.Type) & (ulong)DeviceType.Cpu) != 0 });
        }
        return result;
    }

    /// <summary>The device <paramref name="selector"/> names (an index, or part of a device or platform name, case-insensitive);
    /// without one, FASTCONV_OPENCL_DEVICE, else the first GPU, else the first device.</summary>
    public static OpenClDeviceInfo Select(string? selector = null)
    {
        selector ??= Environment.GetEnvironmentVariable("FASTCONV_OPENCL_DEVICE");
        var all = List();
        if (all.Count == 0)
            throw new BackendUnavailableException("OpenCL: no platform or device found (install a driver, e.g. `apt-get install pocl-opencl-icd`).");
        if (string.IsNullOrWhiteSpace(selector))
            return all.FirstOrDefault(d => DeviceValue<ulong>(d.DeviceId, DeviceInfo.Type) == (ulong)DeviceType.Gpu) ?? all[0];
        if (int.TryParse(selector, out int i))
            return i >= 0 && i < all.Count ? all[i]
                : throw new ArgumentException($"OpenCL: device index {i} is out of range; devices: {string.Join("; ", all)}.");
        return all.FirstOrDefault(d => d.Name.Contains(selector, StringComparison.OrdinalIgnoreCase) ||
                                       d.Platform.Contains(selector, StringComparison.OrdinalIgnoreCase))
               ?? throw new ArgumentException($"OpenCL: no device matches '{selector}'; devices: {string.Join("; ", all)}.");
    }

    private delegate int InfoQuery(nuint size, void* value, nuint* sizeRet);

    /// <summary>A string-valued clGet*Info: ask for the size, then the bytes.</summary>
    private static string InfoString(InfoQuery query, string call)
    {
        nuint size;
        ClError.Check(query(0, null, &size), call);
        var buf = new byte[(int)size];
        fixed (byte* b = buf) ClError.Check(query(size, b, null), call);
        return Encoding.UTF8.GetString(buf).TrimEnd('\0').Trim();
    }

    private static string PlatformString(nint platform, PlatformInfo what) =>
        InfoString((n, v, r) => ClApi.Cl.GetPlatformInfo(platform, what, n, v, r), "clGetPlatformInfo");

    /// <summary>CL_DEVICE_OPENCL_C_VERSION ("deprecated" by OpenCL 3.0 but the one query every 1.2 device answers).</summary>
#pragma warning disable CS0618
    private static string CVersion(nint d) => DeviceString(d, DeviceInfo.OpenclCVersion);
#pragma warning restore CS0618

    internal static string DeviceString(nint device, DeviceInfo what) =>
        InfoString((n, v, r) => ClApi.Cl.GetDeviceInfo(device, what, n, v, r), "clGetDeviceInfo");

    internal static T DeviceValue<T>(nint device, DeviceInfo what) where T : unmanaged
    {
        T v = default;
        ClError.Check(ClApi.Cl.GetDeviceInfo(device, what, (nuint)sizeof(T), &v, null), "clGetDeviceInfo");
        return v;
    }
}
