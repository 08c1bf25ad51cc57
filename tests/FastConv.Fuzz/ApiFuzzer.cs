namespace FastConv.Fuzz;

/// <summary>
/// The API fuzzer (issue 19, 2b): case i of a seed draws a convolution or pooling descriptor (small and mostly valid, or
/// with edge fields: zero, negative, huge, enums out of range) or one of the other IBackend ops with tensors of the right
/// shape or a wrong one, null, disposed, or from another backend, and scalar arguments at and beyond their ranges; then
/// it calls the backend under test. A descriptor the rules forbid must be refused and one they allow accepted
/// (<see cref="Descriptors"/>); every refusal must obey <see cref="CaseLog.CheckRefusal"/>; a valid small call is run on
/// the reference backend too and compared (convolution and max pooling on small integers: exact; the rest within the
/// error bound of <see cref="Compare"/>). The same case index draws the same case on every backend.
/// </summary>
public sealed class ApiFuzzer
{
    private readonly IBackend _be, _ref;
    private readonly IBackend? _foreign;   // a backend whose tensors live elsewhere (OpenCL for a host backend, and back)
    private readonly IBackend[] _hostPeers; // host backends share one storage: their tensors are valid on each other
    private readonly long _seed;
    private readonly TextWriter _out;

    /// <summary>Compute is run and compared only up to these sizes (the reference is naive loops).</summary>
    private const long SmallElements = 20_000, SmallFlops = 4_000_000;

    public ApiFuzzer(string backend, long seed, TextWriter output)
    {
        _be = Resolve(backend);
        _ref = BackendRegistry.Get("reference");
        var available = BackendRegistry.Available;
        bool host = IsHost(_be);
        _foreign = host ? available.FirstOrDefault(b => !IsHost(b)) : available.FirstOrDefault(IsHost);
        _hostPeers = host ? available.Where(IsHost).Append(_be).Distinct().ToArray() : [];
        _seed = seed;
        _out = output;
    }

    /// <summary>A registry backend ("native"), or an ISA variant the registry does not list: native:scalar|avx2|avx512,
    /// managed:scalar|vector256|vector512 (the issue's segfault was on native's AVX2 and scalar variants alike).</summary>
    public static IBackend Resolve(string name)
    {
        int colon = name.IndexOf(':');
        if (colon < 0) return BackendRegistry.Get(name);
        string family = name[..colon], isa = name[(colon + 1)..];
        return family switch
        {
            "native" when Enum.TryParse<FastConv.Native.Interop.NativeIsa>(isa, ignoreCase: true, out var n) => new FastConv.Native.NativeBackend(n),
            "managed" when Enum.TryParse<FastConv.Backends.Managed.ManagedIsa>(isa, ignoreCase: true, out var m) => new FastConv.Backends.Managed.ManagedBackend(m),
            _ => throw new ArgumentException($"Unknown backend variant '{name}': use native:scalar|avx2|avx512 or managed:scalar|vector256|vector512.", nameof(name)),
        };
    }

    private static bool IsHost(IBackend b) { using var t = b.Allocate([1]); return t.IsHost; }

    public CaseLog Run(int index, bool verbose = false)
    {
        var log = new CaseLog(_out, index) { Verbose = verbose };
        var r = Values.CaseRng(_seed, index);
        int kind = r.Next(100);
        try
        {
            if (kind < 35) ConvCase(r, log);
            else if (kind < 55) PoolCase(r, log);
            else OpCase(r, log);
        }
        catch (Exception e)
        {
            // anything that escapes a case is a refusal in the wrong place: the case's own catches handle every call
            log.Finding(FindingKind.BadException, $"escaped the case: {e.GetType().FullName}: {e.Message} at {CaseLog.FirstFrame(e)}");
        }
        log.End();
        return log;
    }

    /// <summary>Builds a descriptor from generated fields: it must be refused (by an allowed exception naming a field of a
    /// broken rule) exactly when the oracle says it breaks a rule. True when it was built and is valid.</summary>
    private static bool Build<TDesc>(CaseLog log, object fields, List<(string Rule, string[] Names)> broken, Func<TDesc> build, string op, out TDesc desc)
    {
        log.Call();
        desc = default!;
        try { desc = build(); }
        catch (Exception e)
        {
            if (broken.Count == 0 && e is not OutOfMemoryException)
                log.Finding(FindingKind.RefusedValid, $"{fields}: {e.GetType().Name}: {e.Message}");
            else log.CheckRefusal(e, fields.ToString()!, broken.SelectMany(b => b.Names).Append(op).ToArray());
            return false;
        }
        if (broken.Count == 0) return true;
        log.Finding(FindingKind.AcceptedInvalid, $"{fields} was accepted ({desc}) although it breaks: {string.Join("; ", broken.Select(b => b.Rule))}");
        return false;
    }

    /// <summary>Plans a valid descriptor: the backend may decline it (an allowed refusal naming the op or itself).</summary>
    private TPlan? Plan<TPlan>(CaseLog log, string call, Func<TPlan> create, string op) where TPlan : class
    {
        log.Step(call); log.Call();
        try { return create(); }
        catch (Exception e) { log.CheckRefusal(e, call, op, op.ToLowerInvariant(), _be.Name, "desc"); return null; }
    }

    // ---------------------------------------------------------------- convolution

    private void ConvCase(Random r, CaseLog log)
    {
        var f = Descriptors.Conv(r, wide: r.Next(100) < 25);
        log.Begin($"{_be.Name} conv {f}");
        if (!Build(log, f, Descriptors.ConvBroken(f), f.Build, "Conv2d", out var d)) return;
        if (Plan(log, $"{_be.Name}.CreateConv2d({d})", () => _be.CreateConv2d(d), "Conv2d") is not { } plan) return;
        bool small = d.InputElements <= SmallElements && d.OutputElements <= SmallElements && d.WeightElements <= SmallElements && d.Flops <= SmallFlops;
        using (plan)
        {
            if (small) ConvCompute(r, log, plan, d);
            int misuses = r.Next(1, 4);
            for (int i = 0; i < misuses; i++) ConvMisuse(r, log, plan, d, small);
        }
        if (small && r.Next(100) < 15) ConvAfterDispose(r, log, d);
    }

    private sealed class Owned : IDisposable
    {
        private readonly List<Tensor> _all = [];
        public Tensor Add(Tensor t) { _all.Add(t); return t; }
        public void Dispose() { foreach (var t in _all) t.Dispose(); }
    }

    /// <summary>A tensor of <paramref name="be"/> holding <paramref name="data"/>.</summary>
    private static Tensor T(Owned o, IBackend be, int[] shape, float[] data)
    {
        var t = o.Add(be.Allocate(shape));
        t.CopyFrom(data);
        return t;
    }

    /// <summary>The backend the valid tensors of a host backend's call come from: usually its own, sometimes another host
    /// backend's (they share one storage type, so the call must work the same).</summary>
    private IBackend Home(Random r) => _hostPeers.Length > 0 && r.Next(100) < 15 ? _hostPeers[r.Next(_hostPeers.Length)] : _be;

    private void ConvCompute(Random r, CaseLog log, IConv2dPlan plan, Conv2dDesc d)
    {
        float[] x = Values.Ints(r, d.InputElements), w = Values.Ints(r, d.WeightElements), b = Values.Ints(r, d.K), dy = Values.Ints(r, d.OutputElements);
        bool withBias = r.Next(100) < 70, withDbias = r.Next(100) < 70;
        var home = Home(r);
        using var o = new Owned();
        using var rp = _ref.CreateConv2d(d);
        using var ra = _ref.CreateConv2d(d.WithActivation(Activation.None));
        float[] Abs(float[] a) => a.Select(Math.Abs).ToArray();
        int k = (int)d.ReductionLength;

        // forward: y = act(conv(x, w) + b)
        var y = T(o, home, d.OutputShape, Values.Uniform(r, d.OutputElements));
        var ry = T(o, _ref, d.OutputShape, new float[d.OutputElements]);
        var absY = T(o, _ref, d.OutputShape, new float[d.OutputElements]);
        log.Step("Forward"); log.Call();
        if (Try(log, $"Forward({d})", () => plan.Forward(T(o, home, d.InputShape, x), T(o, home, d.WeightShape, w), withBias ? T(o, home, d.BiasShape, b) : null, y)))
        {
            rp.Forward(T(o, _ref, d.InputShape, x), T(o, _ref, d.WeightShape, w), withBias ? T(o, _ref, d.BiasShape, b) : null, ry);
            ra.Forward(T(o, _ref, d.InputShape, Abs(x)), T(o, _ref, d.WeightShape, Abs(w)), withBias ? T(o, _ref, d.BiasShape, Abs(b)) : null, absY);
            Compare(log, $"Forward {d} y", y.ToArray(), ry.ToArray(), absY.ToArray(), k + 1);
        }

        // backward-data: dx = conv_transpose(dy, w)
        var dx = T(o, home, d.InputShape, Values.Uniform(r, d.InputElements));
        var rdx = T(o, _ref, d.InputShape, new float[d.InputElements]);
        var absDx = T(o, _ref, d.InputShape, new float[d.InputElements]);
        log.Step("BackwardData"); log.Call();
        if (Try(log, $"BackwardData({d})", () => plan.BackwardData(T(o, home, d.OutputShape, dy), T(o, home, d.WeightShape, w), dx)))
        {
            rp.BackwardData(T(o, _ref, d.OutputShape, dy), T(o, _ref, d.WeightShape, w), rdx);
            ra.BackwardData(T(o, _ref, d.OutputShape, Abs(dy)), T(o, _ref, d.WeightShape, Abs(w)), absDx);
            Compare(log, $"BackwardData {d} dx", dx.ToArray(), rdx.ToArray(), absDx.ToArray(), d.K * d.R * d.S);
        }

        // backward-filter: dw = Σ dy ⋆ x, dbias = Σ dy
        var dw = T(o, home, d.WeightShape, Values.Uniform(r, d.WeightElements));
        var db = withDbias ? T(o, home, d.BiasShape, Values.Uniform(r, d.K)) : null;
        var rdw = T(o, _ref, d.WeightShape, new float[d.WeightElements]);
        var rdb = T(o, _ref, d.BiasShape, new float[d.K]);
        var absDw = T(o, _ref, d.WeightShape, new float[d.WeightElements]);
        var absDb = T(o, _ref, d.BiasShape, new float[d.K]);
        log.Step("BackwardFilter"); log.Call();
        if (Try(log, $"BackwardFilter({d})", () => plan.BackwardFilter(T(o, home, d.InputShape, x), T(o, home, d.OutputShape, dy), dw, db)))
        {
            rp.BackwardFilter(T(o, _ref, d.InputShape, x), T(o, _ref, d.OutputShape, dy), rdw, rdb);
            ra.BackwardFilter(T(o, _ref, d.InputShape, Abs(x)), T(o, _ref, d.OutputShape, Abs(dy)), absDw, absDb);
            long terms = (long)d.N * d.OutH * d.OutW;
            Compare(log, $"BackwardFilter {d} dw", dw.ToArray(), rdw.ToArray(), absDw.ToArray(), terms);
            if (db is not null) Compare(log, $"BackwardFilter {d} dbias", db.ToArray(), rdb.ToArray(), absDb.ToArray(), terms);
        }
        log.ComparedOne();
    }

    /// <summary>Runs a call that must work; a refusal is a finding (an OutOfMemoryException is allowed).</summary>
    private static bool Try(CaseLog log, string call, Action a)
    {
        try { a(); return true; }
        catch (Exception e)
        {
            if (e is OutOfMemoryException) { log.Refused(); return false; }
            log.Finding(CaseLog.AllowedType(e) ? FindingKind.RefusedValid : FindingKind.BadException,
                $"{call}: {e.GetType().FullName}: {e.Message} at {CaseLog.FirstFrame(e)}");
            return false;
        }
    }

    private enum Misuse { Null, Disposed, WrongShape, Foreign }

    /// <summary>A tensor that must be refused in place of one of shape <paramref name="shape"/>, and what is wrong with it.</summary>
    private Tensor? Bad(Random r, Owned o, int[] shape, bool allowNull, out Misuse kind)
    {
        while (true)
        {
            kind = (Misuse)r.Next(4);
            if (kind == Misuse.Null && allowNull) continue;   // null is valid there (bias, dbias)
            if (kind == Misuse.Foreign && _foreign is null) continue;
            switch (kind)
            {
                case Misuse.Null: return null;
                case Misuse.Disposed:
                {
                    var t = _be.Allocate(Clip(shape));
                    t.Dispose();
                    if (Clip(shape).SequenceEqual(shape)) return t;
                    kind = Misuse.WrongShape;   // a disposed tensor of another shape: refused either way
                    return t;
                }
                case Misuse.Foreign: return o.Add(_foreign!.Allocate(Clip(shape)));
                default: return o.Add(_be.Allocate(WrongShape(r, shape)));
            }
        }
    }

    /// <summary>The shape itself when it is small enough to allocate, else a small shape of the same rank.</summary>
    private static int[] Clip(int[] shape) =>
        shape.Aggregate(1L, (a, v) => a * v) <= SmallElements ? shape : shape.Select(v => Math.Min(v, 3)).ToArray();

    /// <summary>A small shape that differs from <paramref name="shape"/>: a dimension changed, added or dropped.</summary>
    private static int[] WrongShape(Random r, int[] shape)
    {
        while (true)
        {
            var s = Clip(shape).ToList();
            switch (r.Next(4))
            {
                case 0 when s.Count > 0: { int i = r.Next(s.Count); s[i] = s[i] > 1 && r.Next(2) == 0 ? s[i] - 1 : s[i] + 1; break; }
                case 1: s.Insert(r.Next(s.Count + 1), r.Next(1, 4)); break;
                case 2 when s.Count > 1: s.RemoveAt(r.Next(s.Count)); break;
                default: if (s.Count > 1) (s[0], s[^1]) = (s[^1], s[0]); break;
            }
            if (!s.SequenceEqual(shape)) return [.. s];
        }
    }

    /// <summary>One plan call with one argument replaced by a bad tensor; the others are valid (small plans) or small
    /// tensors of the right rank (large plans, so any of them may be the one refused).</summary>
    private void ConvMisuse(Random r, CaseLog log, IConv2dPlan plan, Conv2dDesc d, bool small)
    {
        using var o = new Owned();
        int method = r.Next(3);
        (string Name, int[] Shape, bool Nullable)[] args = method switch
        {
            0 => [("x", d.InputShape, false), ("w", d.WeightShape, false), ("bias", d.BiasShape, true), ("y", d.OutputShape, false)],
            1 => [("dy", d.OutputShape, false), ("w", d.WeightShape, false), ("dx", d.InputShape, false)],
            _ => [("x", d.InputShape, false), ("dy", d.OutputShape, false), ("dw", d.WeightShape, false), ("dbias", d.BiasShape, true)],
        };
        int bad = r.Next(args.Length);
        var t = new Tensor?[args.Length];
        Misuse kind = default;
        for (int i = 0; i < args.Length; i++)
            t[i] = i == bad ? Bad(r, o, args[i].Shape, args[i].Nullable, out kind)
                 : small ? o.Add(_be.Allocate(args[i].Shape)) : o.Add(_be.Allocate(Clip(args[i].Shape)));
        string call = $"{new[] { "Forward", "BackwardData", "BackwardFilter" }[method]}({string.Join(", ", args.Select((a, i) => i == bad ? $"{a.Name}: {kind}" : a.Name))}) on {d}";
        log.Step(call); log.Call();
        try
        {
            switch (method)
            {
                case 0: plan.Forward(t[0]!, t[1]!, t[2], t[3]!); break;
                case 1: plan.BackwardData(t[0]!, t[1]!, t[2]!); break;
                default: plan.BackwardFilter(t[0]!, t[1]!, t[2]!, t[3]); break;
            }
            log.Finding(FindingKind.AcceptedInvalid, $"{call} was accepted");
        }
        catch (Exception e)
        {
            string[] names = small && kind != Misuse.WrongShape ? [args[bad].Name] : args.Select(a => a.Name).ToArray();
            log.CheckRefusal(e, call, names);
        }
    }

    /// <summary>A plan called after Dispose: refused with ObjectDisposedException naming the plan (every plan, even one that
    /// holds nothing, so a caller's use-after-dispose is found on the reference backend too).</summary>
    private void ConvAfterDispose(Random r, CaseLog log, Conv2dDesc d)
    {
        using var o = new Owned();
        var plan = _be.CreateConv2d(d);
        plan.Dispose();
        float[] x = Values.Ints(r, d.InputElements), w = Values.Ints(r, d.WeightElements);
        var y = T(o, _be, d.OutputShape, new float[d.OutputElements]);
        log.Step("Forward after Dispose"); log.Call();
        try { plan.Forward(T(o, _be, d.InputShape, x), T(o, _be, d.WeightShape, w), null, y); }
        catch (Exception e) { log.CheckRefusal(e, $"Forward after Dispose on {d}", "plan"); return; }
        log.Finding(FindingKind.AcceptedInvalid, $"Forward after Dispose on {d} was accepted");
    }

    // ---------------------------------------------------------------- pooling

    private void PoolCase(Random r, CaseLog log)
    {
        var f = Descriptors.Pool(r, wide: r.Next(100) < 25);
        log.Begin($"{_be.Name} pool {f}");
        if (!Build(log, f, Descriptors.PoolBroken(f), f.Build, "Pool2d", out var d)) return;
        if (Plan(log, $"{_be.Name}.CreatePool2d({d})", () => _be.CreatePool2d(d), "Pool2d") is not { } plan) return;
        bool small = d.InputElements <= SmallElements && d.OutputElements <= SmallElements;
        using (plan)
        {
            if (small) PoolCompute(r, log, plan, d);
            for (int i = r.Next(1, 3); i > 0; i--) PoolMisuse(r, log, plan, d, small);
        }
        if (small && r.Next(100) < 15) PoolAfterDispose(r, log, d);
    }

    private void PoolAfterDispose(Random r, CaseLog log, Pool2dDesc d)
    {
        using var o = new Owned();
        var plan = _be.CreatePool2d(d);
        plan.Dispose();
        float[] x = Values.Ints(r, d.InputElements);
        var y = T(o, _be, d.OutputShape, new float[d.OutputElements]);
        log.Step("Pool Forward after Dispose"); log.Call();
        try { plan.Forward(T(o, _be, d.InputShape, x), y); }
        catch (Exception e) { log.CheckRefusal(e, $"Pool Forward after Dispose on {d}", "plan"); return; }
        log.Finding(FindingKind.AcceptedInvalid, $"Pool Forward after Dispose on {d} was accepted");
    }

    private void PoolCompute(Random r, CaseLog log, IPool2dPlan plan, Pool2dDesc d)
    {
        using var o = new Owned();
        using var rp = _ref.CreatePool2d(d);
        var home = Home(r);
        float[] x = Values.Ints(r, d.InputElements), dy = Values.Ints(r, d.OutputElements);
        long window = (long)d.KernelH * d.KernelW;
        // average pooling divides: within a few roundings of the window's |sum| (max pooling picks: exact)
        float[]? Scale(float[] v) => d.Kind == PoolKind.Max ? null : v.Select(_ => 3f).ToArray();
        var y = T(o, home, d.OutputShape, Values.Uniform(r, d.OutputElements));
        var ry = T(o, _ref, d.OutputShape, new float[d.OutputElements]);
        log.Step("Pool Forward"); log.Call();
        if (Try(log, $"Forward({d})", () => plan.Forward(T(o, home, d.InputShape, x), y)))
        {
            rp.Forward(T(o, _ref, d.InputShape, x), ry);
            Compare(log, $"Forward {d} y", y.ToArray(), ry.ToArray(), Scale(ry.ToArray()), window + 2);
        }
        var dx = T(o, home, d.InputShape, Values.Uniform(r, d.InputElements));
        var rdx = T(o, _ref, d.InputShape, new float[d.InputElements]);
        log.Step("Pool Backward"); log.Call();
        if (Try(log, $"Backward({d})", () => plan.Backward(T(o, home, d.InputShape, x), T(o, home, d.OutputShape, dy), dx)))
        {
            rp.Backward(T(o, _ref, d.InputShape, x), T(o, _ref, d.OutputShape, dy), rdx);
            // a dx element gathers at most ceil(k/s)² windows' dy
            long overlap = (long)((d.KernelH + d.StrideH - 1) / d.StrideH) * ((d.KernelW + d.StrideW - 1) / d.StrideW);
            Compare(log, $"Backward {d} dx", dx.ToArray(), rdx.ToArray(), d.Kind == PoolKind.Max ? null : rdx.ToArray().Select(_ => 3f * overlap).ToArray(), overlap + 2);
        }
        log.ComparedOne();
    }

    private void PoolMisuse(Random r, CaseLog log, IPool2dPlan plan, Pool2dDesc d, bool small)
    {
        using var o = new Owned();
        bool forward = r.Next(2) == 0;
        (string Name, int[] Shape)[] args = forward ? [("x", d.InputShape), ("y", d.OutputShape)]
                                                    : [("x", d.InputShape), ("dy", d.OutputShape), ("dx", d.InputShape)];
        int bad = r.Next(args.Length);
        var t = new Tensor?[args.Length];
        Misuse kind = default;
        for (int i = 0; i < args.Length; i++)
            t[i] = i == bad ? Bad(r, o, args[i].Shape, false, out kind) : o.Add(_be.Allocate(small ? args[i].Shape : Clip(args[i].Shape)));
        string call = $"Pool {(forward ? "Forward" : "Backward")}({string.Join(", ", args.Select((a, i) => i == bad ? $"{a.Name}: {kind}" : a.Name))}) on {d}";
        log.Step(call); log.Call();
        try
        {
            if (forward) plan.Forward(t[0]!, t[1]!); else plan.Backward(t[0]!, t[1]!, t[2]!);
            log.Finding(FindingKind.AcceptedInvalid, $"{call} was accepted");
        }
        catch (Exception e)
        {
            log.CheckRefusal(e, call, small && kind != Misuse.WrongShape ? [args[bad].Name] : args.Select(a => a.Name).ToArray());
        }
    }

    // ---------------------------------------------------------------- comparison

    /// <summary>
    /// Each element within Atol + 2·K·ε·scale[i] of the reference's: both results are within K·ε·Σ|terms| of the exact one
    /// (the error analysis of tests/FastConv.Tests/Support/Tolerance.cs, with the float reference in place of float64, hence
    /// the 2). <paramref name="scale"/> is Σ|terms| per element (null: results must agree exactly, as for integer inputs
    /// that only move or compare). NaN matches NaN and an infinity the same infinity.
    /// </summary>
    public static void Compare(CaseLog log, string what, float[] got, float[] want, float[]? scale, long k)
    {
        const double atol = 1e-6, eps = 1.1920928955078125e-7;
        if (got.Length != want.Length) { log.Finding(FindingKind.WrongResult, $"{what}: {got.Length} values, reference {want.Length}"); return; }
        for (int i = 0; i < got.Length; i++)
        {
            float g = got[i], w = want[i];
            if (g.Equals(w) || (float.IsNaN(g) && float.IsNaN(w))) continue;
            double bound = scale is null ? 0 : atol + 2.0 * k * eps * Math.Abs(scale[i]);
            double err = Math.Abs((double)g - w);
            if (double.IsNaN(err) || double.IsInfinity(err) || err > bound)
            {
                log.Finding(FindingKind.WrongResult, $"{what}: element {i} is {Values.F(g)}, reference {Values.F(w)} (bound {bound:E2}, K={k})");
                return;
            }
        }
    }

    // ---------------------------------------------------------------- the other ops

    private void OpCase(Random r, CaseLog log)
    {
        var spec = Ops.Draw(r);
        log.Begin($"{_be.Name} {spec}");
        new OpRun(this, spec, r, log).Run();
    }

    /// <summary>One op call with its tensors on the backend under test and the same data on the reference.</summary>
    private sealed class OpRun(ApiFuzzer f, Ops.Spec spec, Random r, CaseLog log)
    {
        public void Run()
        {
            using var o = new Owned();
            var data = spec.Slots.Select(s => s.Fill(r)).ToArray();
            var home = f.Home(r);
            var mine = new Tensor?[spec.Slots.Length];
            for (int i = 0; i < mine.Length; i++) mine[i] = T(o, home, spec.Slots[i].Shape, data[i]);
            // the bad tensor, if any
            int bad = r.Next(100) < 30 ? r.Next(spec.Slots.Length) : -1;
            Misuse kind = default;
            if (bad >= 0)
                do mine[bad] = f.Bad(r, o, spec.Slots[bad].Shape, false, out kind);
                while (kind == Misuse.WrongShape && spec.Slots[bad].Free);
            bool badLength = bad >= 0 && kind == Misuse.WrongShape && spec.Slots[bad].LengthOnly &&
                             mine[bad]!.Length == spec.Slots[bad].Shape.Aggregate(1L, (a, v) => a * v);
            if (badLength)
            {
                mine[bad]!.CopyFrom(data[bad]);   // a reshaped tensor of the right length is valid there: it gets the data
                bad = -1;
            }
            var brokenScalars = spec.Scalars.Where(s => !s.Valid(s.Value)).Select(s => s.Name).ToList();
            string call = $"{spec.Name}({string.Join(", ", spec.Slots.Select((s, i) => i == bad ? $"{s.Name}: {kind}" : $"{s.Name}{Values.Format(s.Shape)}"))}" +
                          $"{string.Concat(spec.Scalars.Select(s => $", {s.Name}: {s.Value:R}"))}{(spec.ListMisuse is { } lm ? $", {lm}" : "")})";
            log.Step(call); log.Call();
            bool invalid = bad >= 0 || brokenScalars.Count > 0 || spec.BadLabel || spec.ListMisuse is not null;
            float? result;
            try { result = spec.Invoke(f._be, mine); }
            catch (Exception e)
            {
                if (!invalid)
                {
                    if (e is OutOfMemoryException) { log.Refused(); return; }
                    log.Finding(CaseLog.AllowedType(e) ? FindingKind.RefusedValid : FindingKind.BadException,
                        $"{call}: {e.GetType().FullName}: {e.Message} at {CaseLog.FirstFrame(e)}");
                    return;
                }
                var names = new List<string>();
                if (bad >= 0) names.AddRange(kind == Misuse.WrongShape ? spec.Slots.Select(s => s.Name) : [spec.Slots[bad].Name]);
                names.AddRange(brokenScalars);
                if (spec.BadLabel) names.Add("labels");
                if (spec.ListMisuse is not null) names.Add(spec.ListName!);
                log.CheckRefusal(e, call, [.. names]);
                return;
            }
            if (invalid)
            {
                log.Finding(FindingKind.AcceptedInvalid, $"{call} was accepted although " +
                    string.Join("; ", new[] { bad >= 0 ? $"{spec.Slots[bad].Name} is {kind}" : null,
                        brokenScalars.Count > 0 ? $"{string.Join(", ", brokenScalars)} out of range" : null,
                        spec.BadLabel ? "a label is not a class index" : null, spec.ListMisuse }.OfType<string>()));
                return;
            }
            // the same call on the reference, then every output compared
            var theirs = new Tensor?[spec.Slots.Length];
            for (int i = 0; i < theirs.Length; i++) theirs[i] = T(o, f._ref, spec.Slots[i].Shape, data[i]);
            float? want = spec.Invoke(f._ref, theirs);
            // the scalars count too: lr = 1e30 with weight decay 1e30 overflows to NaN in one order of operations and
            // not in another, so such a call must be accepted but its result is not compared (below)
            double magnitude = data.SelectMany(a => a).Where(float.IsFinite).Select(v => (double)Math.Abs(v))
                .Concat(spec.Scalars.Select(sc => Math.Abs(sc.Value))).DefaultIfEmpty(0).Max();
            for (int i = 0; i < spec.Slots.Length; i++)
            {
                if (!spec.Slots[i].Output) continue;
                var w = theirs[i]!.ToArray();
                double m = Math.Max(1, Math.Max(magnitude, w.Where(float.IsFinite).Select(v => (double)Math.Abs(v)).DefaultIfEmpty(0).Max())) * spec.Scale;
                // arguments far beyond the data (alpha = 3.4e38, lr = 1e20 whose square overflows) overflow in some orders of
                // operations and not others: the call had to be accepted, but its result is not comparable
                if (!(m * spec.Ops < 1e15)) continue;
                Compare(log, $"{call} {spec.Slots[i].Name}", mine[i]!.ToArray(), w, spec.Exact ? null : w.Select(_ => (float)m).ToArray(), spec.Ops);
            }
            if (want is float wv && result is float gv && Math.Abs(wv) * spec.Ops < 1e15)
                Compare(log, $"{call} result", [gv], [wv], spec.Exact ? null : [(float)(Math.Max(1, Math.Abs(wv)) * spec.Scale)], spec.Ops);
            log.ComparedOne();
        }
    }
}
