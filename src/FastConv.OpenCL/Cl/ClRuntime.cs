using System.Collections.Concurrent;
using System.Reflection;
using System.Text;
using Silk.NET.OpenCL;

namespace FastConv.OpenCL.Cl;

/// <summary>
/// One device's context and in-order queue, the program cache (one program per (file, options), built on first use),
/// the kernels, and typed kernel launches. Every cl* call is checked; a failed build throws with the whole log.
/// </summary>
internal sealed unsafe class ClRuntime : IDisposable
{
    private readonly ClContext _context;
    private readonly ClQueue _queue;
    private readonly ConcurrentDictionary<(string File, string Options), ClProgram> _programs = new();
    private readonly ConcurrentDictionary<(string File, string Options, string Kernel), ClKernel> _kernels = new();
    private readonly object _launch = new();

    public ClRuntime(OpenClDeviceInfo device)
    {
        Device = device;
        var cl = ClApi.Cl;
        int err;
        nint id = device.DeviceId;
        nint ctx = cl.CreateContext(null, 1, &id, default, null, &err);
        ClError.Check(err, "clCreateContext", device.Name);
        _context = new ClContext(ctx);
        nint q = cl.CreateCommandQueue(ctx, id, CommandQueueProperties.None, &err);
        ClError.Check(err, "clCreateCommandQueue", device.Name);
        _queue = new ClQueue(q);
    }

    public OpenClDeviceInfo Device { get; }
    public nint Queue => _queue.Value;

    /// <summary>The text of opencl/&lt;file&gt;, embedded in this assembly, with its `#include "x"` lines replaced by the
    /// embedded opencl/x (drivers resolve include paths differently; the sources travel inside the assembly).</summary>
    public static string Source(string file)
    {
        using var s = Assembly.GetExecutingAssembly().GetManifestResourceStream($"opencl/{file}")
                      ?? throw new InvalidOperationException($"OpenCL: kernel source opencl/{file} is not embedded in FastConv.OpenCL.");
        using var r = new StreamReader(s);
        var text = new StringBuilder();
        for (string? line; (line = r.ReadLine()) is not null;)
        {
            var t = line.Trim();
            if (t.StartsWith("#include \"", StringComparison.Ordinal) && t.EndsWith('"')) text.AppendLine(Source(t[10..^1]));
            else text.AppendLine(line);
        }
        return text.ToString();
    }

    public ClMem CreateBuffer(long bytes, string what)
    {
        if (bytes > Device.MaxAllocation)
            throw new OutOfMemoryException($"OpenCL: {what} needs {bytes:N0} bytes, more than {Device.Name} allocates at once " +
                                           $"(CL_DEVICE_MAX_MEM_ALLOC_SIZE = {Device.MaxAllocation:N0}).");
        int err;
        nint m = ClApi.Cl.CreateBuffer(_context.Value, MemFlags.ReadWrite, (nuint)Math.Max(bytes, 4), null, &err);
        ClError.Check(err, "clCreateBuffer", $"{what}, {bytes:N0} bytes on {Device.Name}");
        var mem = new ClMem(m);
        float zero = 0f;
        ClError.Check(ClApi.Cl.EnqueueFillBuffer(Queue, m, &zero, 4, 0, (nuint)Math.Max(bytes, 4), 0, null, null), "clEnqueueFillBuffer");
        return mem;
    }

    public void Write(ClMem mem, long offsetBytes, ReadOnlySpan<byte> data)
    {
        fixed (byte* p = data)
            ClError.Check(ClApi.Cl.EnqueueWriteBuffer(Queue, mem.Value, true, (nuint)offsetBytes, (nuint)data.Length, p, 0, null, null), "clEnqueueWriteBuffer");
    }

    public void Read(ClMem mem, long offsetBytes, Span<byte> data)
    {
        fixed (byte* p = data)
            ClError.Check(ClApi.Cl.EnqueueReadBuffer(Queue, mem.Value, true, (nuint)offsetBytes, (nuint)data.Length, p, 0, null, null), "clEnqueueReadBuffer");
    }

    /// <summary>Builds <paramref name="source"/> for this device; a failure throws <see cref="OpenClBuildException"/> with the log.</summary>
    public ClProgram Build(string file, string source, string options)
    {
        var cl = ClApi.Cl;
        int err;
        byte[] src = Encoding.UTF8.GetBytes(source);
        nint prog;
        fixed (byte* s = src)
        {
            byte* strings = s;
            nuint len = (nuint)src.Length;
            prog = cl.CreateProgramWithSource(_context.Value, 1, &strings, &len, &err);
        }
        ClError.Check(err, "clCreateProgramWithSource", file);
        var program = new ClProgram(prog);
        nint dev = Device.DeviceId;
        byte[] opts = Encoding.UTF8.GetBytes(options + "\0");
        fixed (byte* o = opts) err = cl.BuildProgram(prog, 1, &dev, o, default, null);
        if (err != 0)
        {
            string log = BuildLog(prog);
            program.Dispose();
            if (err == -11) throw new OpenClBuildException(file, options, Device.Name, log);
            throw new OpenClException("clBuildProgram", err, $"{file}: {log}");
        }
        return program;
    }

    private string BuildLog(nint prog)
    {
        var cl = ClApi.Cl;
        nuint size;
        if (cl.GetProgramBuildInfo(prog, Device.DeviceId, ProgramBuildInfo.BuildLog, 0, null, &size) != 0) return "(no build log)";
        var buf = new byte[(int)size];
        fixed (byte* b = buf) cl.GetProgramBuildInfo(prog, Device.DeviceId, ProgramBuildInfo.BuildLog, size, b, null);
        return Encoding.UTF8.GetString(buf).TrimEnd('\0').Trim();
    }

    /// <summary>A kernel of opencl/&lt;file&gt; built with <paramref name="options"/> (cached).</summary>
    public ClKernel Kernel(string file, string name, string options = "")
    {
        return _kernels.GetOrAdd((file, options, name), key =>
        {
            var program = _programs.GetOrAdd((key.File, key.Options), k => Build(k.File, Source(k.File), "-cl-std=CL1.2 " + k.Options));
            int err;
            byte[] n = Encoding.UTF8.GetBytes(key.Kernel + "\0");
            nint kernel;
            fixed (byte* p = n) kernel = ClApi.Cl.CreateKernel(program.Value, p, &err);
            ClError.Check(err, "clCreateKernel", key.Kernel);
            return new ClKernel(kernel);
        });
    }

    /// <summary>Sets the arguments and runs the kernel over <paramref name="global"/> (rounded up to the local size),
    /// then waits: every op is complete, and its errors reported, when it returns.</summary>
    public void Run(ClKernel kernel, ReadOnlySpan<long> global, ReadOnlySpan<long> local, params ReadOnlySpan<KernelArg> args)
    {
        var cl = ClApi.Cl;
        nint k = kernel.Value;
        int dims = global.Length;
        nuint* g = stackalloc nuint[3];
        nuint* l = stackalloc nuint[3];
        for (int d = 0; d < dims; d++)
        {
            long ls = local.IsEmpty ? 1 : local[d];
            g[d] = (nuint)((Math.Max(global[d], 1) + ls - 1) / ls * ls);
            l[d] = (nuint)ls;
        }
        lock (_launch)
        {
            for (int i = 0; i < args.Length; i++) args[i].Set(k, (uint)i);
            ClError.Check(cl.EnqueueNdrangeKernel(Queue, k, (uint)dims, null, g, local.IsEmpty ? null : l, 0, null, null), "clEnqueueNDRangeKernel");
            ClError.Check(cl.Finish(Queue), "clFinish");
        }
    }

    public void Dispose()
    {
        foreach (var k in _kernels.Values) k.Dispose();
        foreach (var p in _programs.Values) p.Dispose();
        _kernels.Clear();
        _programs.Clear();
        _queue.Dispose();
        _context.Dispose();
    }
}

/// <summary>One kernel argument: a buffer or a scalar (int, long, float, ulong).</summary>
internal readonly unsafe struct KernelArg
{
    private readonly ClMem? _mem;
    private readonly long _bits;
    private readonly int _size;

    private KernelArg(ClMem? mem, long bits, int size) { _mem = mem; _bits = bits; _size = size; }

    public static implicit operator KernelArg(ClMem mem) => new(mem, 0, 0);
    public static implicit operator KernelArg(int v) => new(null, v, 4);
    public static implicit operator KernelArg(long v) => new(null, v, 8);
    public static implicit operator KernelArg(ulong v) => new(null, (long)v, 8);
    public static implicit operator KernelArg(float v) => new(null, BitConverter.SingleToInt32Bits(v), 4);
    public static implicit operator KernelArg(bool v) => new(null, v ? 1 : 0, 4);

    public void Set(nint kernel, uint index)
    {
        if (_mem is not null)
        {
            nint h = _mem.Value;
            ClError.Check(ClApi.Cl.SetKernelArg(kernel, index, (nuint)sizeof(nint), &h), "clSetKernelArg", $"argument {index}");
            return;
        }
        long bits = _bits;
        if (_size == 4)
        {
            int v = (int)bits;
            ClError.Check(ClApi.Cl.SetKernelArg(kernel, index, 4, &v), "clSetKernelArg", $"argument {index}");
        }
        else ClError.Check(ClApi.Cl.SetKernelArg(kernel, index, 8, &bits), "clSetKernelArg", $"argument {index}");
    }
}
