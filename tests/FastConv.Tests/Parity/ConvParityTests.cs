using FastConv.Backends.Reference;
using FastConv.Tests.Support;

namespace FastConv.Tests.Parity;

/// <summary>Every fast backend × every conv case of data/shapes/parity.txt, against the reference (ggml's test-backend-ops).</summary>
[TestFixture]
public class ConvParityTests
{
    public static IEnumerable<TestCaseData> Cases() =>
        from b in TestBackends.FastNames
        from c in TestData.Parity where c.Conv is not null
        select new TestCaseData(b, c.Name).SetArgDisplayNames(b, c.Name);

    [OneTimeSetUp]
    public void ReportMissingIsas()
    {
        foreach (var m in TestBackends.MissingIsas) TestContext.Progress.WriteLine($"not tested here (not accelerated on this machine): {m}");
    }

    /// <summary>One parity case's inputs and the three directions run on a backend; <paramref name="plan"/> makes the
    /// plan (default: the backend's choice; the native entry tests force one entry).</summary>
    internal sealed class Run : IDisposable
    {
        public readonly Conv2dDesc D;
        public readonly float[] X, W, B, Dy;
        private readonly List<Tensor> _owned = [];
        private readonly Func<IBackend, Conv2dDesc, IConv2dPlan> _plan;

        public Run(string shape, bool integers, Func<IBackend, Conv2dDesc, IConv2dPlan>? plan = null)
            : this(TestData.ParityCase(shape).Conv!.Value, integers, plan) { }

        public Run(Conv2dDesc desc, bool integers, Func<IBackend, Conv2dDesc, IConv2dPlan>? plan = null)
        {
            _plan = plan ?? ((be, d) => be.CreateConv2d(d));
            D = desc;
            X = integers ? TestData.Ints(D.InputElements, 1) : TestData.Uniform(D.InputElements, 1);
            W = integers ? TestData.Ints(D.WeightElements, 2) : TestData.Uniform(D.WeightElements, 2);
            B = integers ? TestData.Ints(D.K, 3) : TestData.Uniform(D.K, 3);
            Dy = integers ? TestData.Ints(D.OutputElements, 4) : TestData.Uniform(D.OutputElements, 4);
        }

        public Tensor T(IBackend be, int[] shape, float[]? data = null)
        {
            var t = be.Allocate(shape);
            if (data is not null) t.CopyFrom(data);
            _owned.Add(t);
            return t;
        }

        public float[] Forward(IBackend be)
        {
            using var plan = _plan(be, D);
            var y = T(be, D.OutputShape);
            plan.Forward(T(be, D.InputShape, X), T(be, D.WeightShape, W), T(be, D.BiasShape, B), y);
            return y.ToArray();
        }

        public float[] BackwardData(IBackend be)
        {
            using var plan = _plan(be, D);
            var dx = T(be, D.InputShape, TestData.Uniform(D.InputElements, 9));   // stale contents must be overwritten
            plan.BackwardData(T(be, D.OutputShape, Dy), T(be, D.WeightShape, W), dx);
            return dx.ToArray();
        }

        public (float[] Dw, float[] Db) BackwardFilter(IBackend be)
        {
            using var plan = _plan(be, D);
            var dw = T(be, D.WeightShape, TestData.Uniform(D.WeightElements, 9));
            var db = T(be, D.BiasShape, TestData.Uniform(D.K, 9));
            plan.BackwardFilter(T(be, D.InputShape, X), T(be, D.OutputShape, Dy), dw, db);
            return (dw.ToArray(), db.ToArray());
        }

        public void Dispose() { foreach (var t in _owned) t.Dispose(); }
    }

    [TestCaseSource(nameof(Cases))]
    public void Forward_IntegerInputs_EqualReferenceExactly(string backend, string shape)
    {
        using var run = new Run(shape, integers: true);
        Tolerance.Exact(run.Forward(TestBackends.Get(backend)), run.Forward(TestBackends.Reference), $"{backend} {shape} forward");
    }

    [TestCaseSource(nameof(Cases))]
    public void Forward_RandomInputs_WithinTolerance(string backend, string shape)
    {
        using var run = new Run(shape, integers: false);
        ForwardWithinTolerance(run, run.Forward(TestBackends.Get(backend)), $"{backend} {shape} forward");
    }

    internal static void ForwardWithinTolerance(Run run, float[] got, string what)
    {
        var d = run.D;
        var exact = new double[d.OutputElements];
        var absSum = new double[d.OutputElements];
        var x = TestData.ToDouble(run.X); var w = TestData.ToDouble(run.W); var b = TestData.ToDouble(run.B);
        ReferenceKernels.Conv2dForward<double>(d, x, w, b, exact);
        ReferenceKernels.Conv2dForward<double>(d.WithActivation(Activation.None), TestData.Abs(x), TestData.Abs(w), TestData.Abs(b), absSum);
        Tolerance.Reduction(got, exact, absSum, d.ReductionLength + 1, what);
    }

    [TestCaseSource(nameof(Cases))]
    public void BackwardData_IntegerInputs_EqualReferenceExactly(string backend, string shape)
    {
        using var run = new Run(shape, integers: true);
        Tolerance.Exact(run.BackwardData(TestBackends.Get(backend)), run.BackwardData(TestBackends.Reference), $"{backend} {shape} backward-data");
    }

    [TestCaseSource(nameof(Cases))]
    public void BackwardData_RandomInputs_WithinTolerance(string backend, string shape)
    {
        using var run = new Run(shape, integers: false);
        BackwardDataWithinTolerance(run, run.BackwardData(TestBackends.Get(backend)), $"{backend} {shape} backward-data");
    }

    internal static void BackwardDataWithinTolerance(Run run, float[] got, string what)
    {
        var d = run.D;
        var exact = new double[d.InputElements];
        var absSum = new double[d.InputElements];
        var dy = TestData.ToDouble(run.Dy); var w = TestData.ToDouble(run.W);
        ReferenceKernels.Conv2dBackwardData<double>(d, dy, w, exact);
        ReferenceKernels.Conv2dBackwardData<double>(d, TestData.Abs(dy), TestData.Abs(w), absSum);
        Tolerance.Reduction(got, exact, absSum, (long)d.K * d.R * d.S, what);
    }

    [TestCaseSource(nameof(Cases))]
    public void BackwardFilter_IntegerInputs_EqualReferenceExactly(string backend, string shape)
    {
        using var run = new Run(shape, integers: true);
        var (dw, db) = run.BackwardFilter(TestBackends.Get(backend));
        var (rw, rb) = run.BackwardFilter(TestBackends.Reference);
        Tolerance.Exact(dw, rw, $"{backend} {shape} backward-filter dw");
        Tolerance.Exact(db, rb, $"{backend} {shape} backward-filter dbias");
    }

    [TestCaseSource(nameof(Cases))]
    public void BackwardFilter_RandomInputs_WithinTolerance(string backend, string shape)
    {
        using var run = new Run(shape, integers: false);
        BackwardFilterWithinTolerance(run, run.BackwardFilter(TestBackends.Get(backend)), $"{backend} {shape} backward-filter");
    }

    internal static void BackwardFilterWithinTolerance(Run run, (float[] Dw, float[] Db) got, string what)
    {
        var d = run.D;
        var (dw, db) = got;
        var exactW = new double[d.WeightElements]; var exactB = new double[d.K];
        var absW = new double[d.WeightElements]; var absB = new double[d.K];
        var x = TestData.ToDouble(run.X); var dy = TestData.ToDouble(run.Dy);
        ReferenceKernels.Conv2dBackwardFilter<double>(d, x, dy, exactW, exactB);
        ReferenceKernels.Conv2dBackwardFilter<double>(d, TestData.Abs(x), TestData.Abs(dy), absW, absB);
        long k = (long)d.N * d.OutH * d.OutW;
        Tolerance.Reduction(dw, exactW, absW, k, $"{what} dw");
        Tolerance.Reduction(db, exactB, absB, k, $"{what} dbias");
    }
}
