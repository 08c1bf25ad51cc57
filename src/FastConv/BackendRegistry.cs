using System.Collections.Concurrent;

namespace FastConv;

/// <summary>Thrown when a backend is chosen explicitly but cannot run here; the message says why.</summary>
public sealed class BackendUnavailableException(string message) : Exception(message);

/// <summary>A backend that can tell `auto` to pass it over here, and why (shown by `fastconv info`).</summary>
public interface IAutoChoice
{
    bool PreferredForAuto { get; }
    string AutoNote { get; }
}

/// <summary>One registry entry as `fastconv info` shows it.</summary>
public sealed record BackendInfo(string Name, bool IsAvailable, string? Reason);

/// <summary>
/// The backends in preference order (opencl → native → managed → reference). `auto` takes the first one
/// that loads, supports the op and does not pass itself over (<see cref="IAutoChoice"/>: OpenCL on a CPU device). A backend that cannot load stays listed with its reason; it is never faked.
/// </summary>
public static class BackendRegistry
{
    private sealed record Entry(string Name, int Order, Lazy<(IBackend? Backend, string? Reason)> Instance);

    private static readonly ConcurrentDictionary<string, Entry> Entries = new(StringComparer.OrdinalIgnoreCase);

    /// <summary>Preference order of the known backends; lower runs first under `auto`.</summary>
    public static class Order
    {
        public const int OpenCl = 0, Native = 10, Managed = 20, Reference = 30;
    }

    static BackendRegistry()
    {
        Register("opencl", Order.OpenCl, () => Load("opencl", "FastConv.OpenCL.OpenClBackend, FastConv.OpenCL"));
        Register("native", Order.Native, () => Load("native", "FastConv.Native.NativeBackend, FastConv.Native"));
        Register("managed", Order.Managed, () => new Backends.Managed.ManagedBackend());
        Register("reference", Order.Reference, () => new Backends.Reference.ReferenceBackend());
    }

    /// <summary>A backend in its own assembly (it carries a native library or a device runtime), created by reflection so the
    /// core does not depend on it. Not deployed next to the application: unavailable, with that as the reason.</summary>
    private static IBackend Load(string name, string typeName)
    {
        Type? type;
        try { type = Type.GetType(typeName, throwOnError: false); }
        catch (Exception e) { throw new BackendUnavailableException($"{typeName.Split(", ")[1]}.dll could not be loaded: {e.Message}"); }
        if (type is null)
            throw new BackendUnavailableException($"{typeName.Split(", ")[1]}.dll is not deployed with this application (reference the project to use the '{name}' backend).");
        try { return (IBackend)Activator.CreateInstance(type)!; }
        catch (System.Reflection.TargetInvocationException e) when (e.InnerException is not null) { throw e.InnerException; }
    }

    /// <summary>Adds a backend. The factory runs on first use; if it throws, the entry is unavailable with that message as reason.</summary>
    public static void Register(string name, int order, Func<IBackend> factory)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(name);
        Entries[name] = new Entry(name, order, new Lazy<(IBackend?, string?)>(() =>
        {
            try { return (factory(), null); }
            catch (Exception e) { return (null, e.Message); }
        }));
    }

    public static IReadOnlyList<BackendInfo> List() =>
        Ordered().Select(e => new BackendInfo(e.Name, e.Instance.Value.Backend is not null, e.Instance.Value.Reason)).ToList();

    /// <summary>The backends that loaded, best first.</summary>
    public static IReadOnlyList<IBackend> Available =>
        Ordered().Select(e => e.Instance.Value.Backend).OfType<IBackend>().ToList();

    /// <summary>A backend by name, or "auto" for the best available one.</summary>
    public static IBackend Get(string name)
    {
        ArgumentNullException.ThrowIfNull(name);
        if (name.Equals("auto", StringComparison.OrdinalIgnoreCase))
            return Available.FirstOrDefault(PreferredForAuto) ?? throw new BackendUnavailableException("No FastConv backend is available.");
        if (!Entries.TryGetValue(name, out var e))
            throw new ArgumentException($"Unknown backend '{name}'. Known: auto, {string.Join(", ", Ordered().Select(x => x.Name))}.", nameof(name));
        return e.Instance.Value.Backend ?? throw new BackendUnavailableException($"Backend '{e.Name}' is not available: {e.Instance.Value.Reason}");
    }

    /// <summary>Whether `auto` may take this backend (an OpenCL CPU device defers to native on the same cores).</summary>
    public static bool PreferredForAuto(IBackend b) => b is not IAutoChoice c || c.PreferredForAuto;

    /// <summary>The first available backend that supports <paramref name="desc"/>.</summary>
    public static IBackend AutoFor(in Conv2dDesc desc)
    {
        foreach (var b in Available) if (PreferredForAuto(b) && b.Supports(desc)) return b;
        throw new BackendUnavailableException($"No available backend supports {desc}.");
    }

    public static IBackend AutoFor(in Pool2dDesc desc)
    {
        foreach (var b in Available) if (PreferredForAuto(b) && b.Supports(desc)) return b;
        throw new BackendUnavailableException($"No available backend supports {desc}.");
    }

    private static IEnumerable<Entry> Ordered() => Entries.Values.OrderBy(e => e.Order).ThenBy(e => e.Name, StringComparer.Ordinal);
}
