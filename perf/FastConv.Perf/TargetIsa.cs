using System.Diagnostics;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace FastConv.Perf;

/// <summary>
/// <c>--isa avx2|avx512</c>: runs every library in the process at one x86 vector ISA, so an AVX-512 machine can stand
/// in for an AVX2-only CPU (the AVX2 rows are then a proxy, and every table says so).
/// <list type="bullet">
/// <item>native backend: <c>FASTCONV_ISA</c>, read by libfastconv.so when it loads;</item>
/// <item>TorchSharp: <c>ONEDNN_MAX_CPU_ISA</c> (AVX2 / AVX512_CORE) caps oneDNN's JIT kernels and
/// <c>ATEN_CPU_CAPABILITY</c> (avx2 / avx512) picks ATen's vectorised kernels, both read when libtorch starts;</item>
/// <item>managed code (the managed backend, the native backend's element-wise ops, TensorPrimitives, the FMA peak
/// loop): <c>DOTNET_EnableAVX512=0</c> for avx2, so <c>Vector512</c> and <c>Avx512F</c> report false as on an
/// AVX2-only CPU; <c>DOTNET_EnableAVX512=1</c> with <c>DOTNET_PreferredVectorBitWidth=512</c> for avx512 (some
/// Intel parts default to 256). The runtime reads those only at startup, so the program starts itself again with
/// them set when the running runtime does not match (<see cref="Relaunch"/>).</item>
/// </list>
/// The variables are set in the process environment (and natively, for getenv) before any of those libraries
/// loads, so BenchmarkDotNet's out-of-process children inherit them too (the jobs also carry them explicitly).
/// </summary>
public static class TargetIsa
{
    public const string Avx2 = "avx2", Avx512 = "avx512";
    private const string ChildMarker = "FASTCONV_PERF_ISA_RELAUNCHED";

    /// <summary>The ISA asked for (--isa, else FASTCONV_ISA when it names one of the two); null: each library picks its widest.</summary>
    public static string? Requested { get; private set; }

    /// <summary>The ISA the rows run at: <see cref="Requested"/>, else the widest this CPU has.</summary>
    public static string Effective => Requested ?? (Cpu.Supports(Avx512) ? Avx512 : Cpu.Supports(Avx2) ? Avx2 : "scalar");

    /// <summary>AVX2 rows measured on a CPU that has AVX-512: a stand-in for an AVX2-only CPU, not one.</summary>
    public static bool IsProxy => Effective == Avx2 && Cpu.Supports(Avx512);

    /// <summary>FMA vector width, in bits, of the peak loop: that of the ISA (avx2 → Vector256, avx512 → Vector512).</summary>
    public static int FmaBits => Effective switch
    {
        Avx512 => 512,
        Avx2 => 256,
        _ => Vector512.IsHardwareAccelerated ? 512 : 256,
    };

    /// <summary>Short tag for a table column: "avx2", "avx2 (proxy)", "avx512".</summary>
    public static string Tag => Effective + (IsProxy ? " (proxy)" : "");

    /// <summary>The line every table carries: CPU, family/model, ISA, and whether the rows are a proxy.</summary>
    public static string Describe() =>
        $"CPU: {Cpu.ModelName} (family {Cpu.Family}, model {Cpu.Model}); ISA: {Effective}" +
        (Requested is null ? " (each library's widest; no --isa)" : " (--isa)") +
        (IsProxy ? $"; AVX2 rows on an AVX-512 CPU are a proxy for an AVX2-only CPU (AVX-512 switched off, not absent)" : "");

    /// <summary>The environment an ISA needs, native and managed.</summary>
    public static IReadOnlyList<KeyValuePair<string, string>> Variables(string isa) => isa switch
    {
        Avx2 =>
        [
            new("FASTCONV_ISA", "avx2"), new("ONEDNN_MAX_CPU_ISA", "AVX2"), new("ATEN_CPU_CAPABILITY", "avx2"),
            new("DOTNET_EnableAVX512", "0"),
        ],
        Avx512 =>
        [
            new("FASTCONV_ISA", "avx512"), new("ONEDNN_MAX_CPU_ISA", "AVX512_CORE"), new("ATEN_CPU_CAPABILITY", "avx512"),
            new("DOTNET_EnableAVX512", "1"), new("DOTNET_PreferredVectorBitWidth", "512"),
        ],
        _ => throw new ArgumentOutOfRangeException(nameof(isa), isa, "expected avx2 or avx512"),
    };

    /// <summary>
    /// Takes the ISA (null: --isa absent, then FASTCONV_ISA=avx2|avx512 counts as the request), refuses one the CPU lacks,
    /// and sets its variables. Returns an error message, or null when the process may go on.
    /// </summary>
    public static string? Select(string? isa)
    {
        if (isa is null)
        {
            string? env = Environment.GetEnvironmentVariable("FASTCONV_ISA");
            if (env is Avx2 or Avx512) isa = env;
        }
        if (isa is null) return null;
        if (isa is not (Avx2 or Avx512)) return $"--isa {isa}: expected avx2 or avx512.";
        if (!Cpu.Supports(isa))
            return $"--isa {isa}: this CPU ({Cpu.ModelName}, family {Cpu.Family}, model {Cpu.Model}) lacks " +
                   $"{string.Join(", ", Cpu.Required(isa).Where(f => !Cpu.Flags.Contains(f)))} (/proc/cpuinfo flags), so it cannot run {isa} code.";
        Requested = isa;
        foreach (var (name, value) in Variables(isa)) PerfRunner.SetNativeEnvironment(name, value);
        return null;
    }

    /// <summary>Whether the running .NET runtime already uses the requested width (its ISA knobs are read only at startup).</summary>
    public static bool RuntimeMatches => Requested switch
    {
        Avx2 => !Avx512F.IsSupported && !Vector512.IsHardwareAccelerated && Vector256.IsHardwareAccelerated,
        Avx512 => Vector512.IsHardwareAccelerated,
        _ => true,
    };

    /// <summary>
    /// Starts this program again with the variables set (inherited from this process) when the runtime does not match;
    /// returns the child's exit code, or null when no relaunch is needed. A relaunched child that still does not match fails.
    /// </summary>
    public static int? Relaunch(string[] args)
    {
        if (RuntimeMatches) return null;
        if (Environment.GetEnvironmentVariable(ChildMarker) == "1")
        {
            Console.Error.WriteLine($"--isa {Requested}: the .NET runtime ignored {string.Join(" ", Variables(Requested!).Where(v => v.Key.StartsWith("DOTNET_")).Select(v => $"{v.Key}={v.Value}"))} " +
                                    $"(Vector512 accelerated: {Vector512.IsHardwareAccelerated}, Avx512F: {Avx512F.IsSupported}); refusing to measure at the wrong width.");
            return 2;
        }
        string self = Environment.ProcessPath ?? throw new InvalidOperationException("no process path to relaunch");
        var start = new ProcessStartInfo(self) { UseShellExecute = false };
        if (Path.GetFileNameWithoutExtension(self) == "dotnet")
            start.ArgumentList.Add(System.Reflection.Assembly.GetEntryAssembly()!.Location);   // `dotnet program.dll`
        foreach (var a in args) start.ArgumentList.Add(a);
        start.Environment[ChildMarker] = "1";
        Console.WriteLine($"--isa {Requested}: restarting with {string.Join(" ", Variables(Requested!).Select(v => $"{v.Key}={v.Value}"))} " +
                          "(the .NET runtime reads its ISA switches at startup only)");
        using var child = Process.Start(start)!;
        child.WaitForExit();
        return child.ExitCode;
    }

    /// <summary>This CPU as Linux reports it: lscpu's "Model name", and family, model and flags from /proc/cpuinfo.</summary>
    public static class Cpu
    {
        private static readonly Lazy<(string Name, string Family, string Model, HashSet<string> Flags)> Info = new(Read);

        public static string ModelName => Info.Value.Name;
        public static string Family => Info.Value.Family;
        public static string Model => Info.Value.Model;
        public static IReadOnlySet<string> Flags => Info.Value.Flags;

        /// <summary>The cpuinfo flags an ISA needs: the ones libfastconv checks (native/src/common/common.c).</summary>
        public static string[] Required(string isa) => isa switch
        {
            Avx2 => ["avx2", "fma"],
            Avx512 => ["avx512f", "avx512bw", "avx512vl", "avx512dq"],
            _ => [],
        };

        /// <summary>From the CPU's own flags, not from the runtime (which --isa avx2 tells to hide AVX-512).</summary>
        public static bool Supports(string isa) => Required(isa).All(Flags.Contains);

        private static (string, string, string, HashSet<string>) Read()
        {
            string name = "unknown CPU", family = "?", model = "?";
            var flags = new HashSet<string>();
            if (File.Exists("/proc/cpuinfo"))
                foreach (var line in File.ReadLines("/proc/cpuinfo"))
                {
                    int colon = line.IndexOf(':');
                    if (colon < 0) { if (flags.Count > 0) break; continue; }   // the first processor's block is enough
                    string key = line[..colon].Trim(), value = line[(colon + 1)..].Trim();
                    switch (key)
                    {
                        case "model name": name = value; break;
                        case "cpu family": family = value; break;
                        case "model": model = value; break;
                        case "flags": flags.UnionWith(value.Split(' ', StringSplitOptions.RemoveEmptyEntries)); break;
                    }
                }
            else
            {
                // no /proc (not Linux): what the runtime reports, before any --isa switch reaches it
                if (System.Runtime.Intrinsics.X86.Avx2.IsSupported) flags.Add("avx2");
                if (Fma.IsSupported) flags.Add("fma");
                if (Avx512F.IsSupported) flags.UnionWith(["avx512f", "avx512bw", "avx512vl", "avx512dq"]);
            }
            return (LscpuModelName() ?? name, family, model, flags);
        }

        private static string? LscpuModelName()
        {
            try
            {
                using var p = Process.Start(new ProcessStartInfo("lscpu") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false });
                if (p is null) return null;
                string output = p.StandardOutput.ReadToEnd();
                p.WaitForExit();
                return output.Split('\n').Where(l => l.StartsWith("Model name:", StringComparison.Ordinal))
                    .Select(l => l["Model name:".Length..].Trim()).FirstOrDefault(s => s.Length > 0);
            }
            catch (Exception e) when (e is System.ComponentModel.Win32Exception or InvalidOperationException) { return null; }
        }
    }
}
