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
/// The backends in preference order, lowest priority first (opencl 0 → native 10 → managed 20 → reference 30).
/// `auto` takes the first one that loads, supports the op and does not pass itself over (<see cref="IAutoChoice"/>:
/// OpenCL on a CPU device). The core registers only its own two backends; every other one registers itself at the
/// composition root (the CLI, the tests, the perf suite call e.g. <c>NativeBackend.Register()</c>), so a backend can
/// live in any assembly. A backend that cannot load stays listed with its reason; it is never faked.
/// </summary>
public static class BackendRegistry
{
    private sealed record Entry(string Name, int Priority, Lazy<(IBackend? Backend, string? Reason)> Instance);

    private static readonly ConcurrentDictionary<string, Entry> Entries = new(StringComparer.OrdinalIgnoreCase);

    /// <summary>The priorities of the core's backends; a backend elsewhere picks its own (lower runs first under `auto`).</summary>
    public const int ManagedPriority = 20, ReferencePriority = 30;

    static BackendRegistry()
    {
        Register("managed", ManagedPriority, () => new Backends.Managed.ManagedBackend());
        Register("reference", ReferencePriority, () => new Backends.Reference.ReferenceBackend());
    }

    /// <summary>Adds a backend, or replaces the entry of that name. The factory runs on first use; if it throws, the entry
    /// is unavailable with that message as its reason (a missing native library, no OpenCL platform).</summary>
    public static void Register(string name, int priority, Func<IBackend> factory)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(name);
        ArgumentNullException.ThrowIfNull(factory);
        Entries[name] = new Entry(name, priority, new Lazy<(IBackend?, string?)>(() =>
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

    private static IEnumerable<Entry> Ordered() => Entries.Values.OrderBy(e => e.Priority).ThenBy(e => e.Name, StringComparer.Ordinal);
}
