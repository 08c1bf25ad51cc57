using FastConv.Tests.Support;

namespace FastConv.Tests.Errors;

/// <summary>
/// Every case of <see cref="OpCases"/> on every registry backend (OpenCL and each native ISA included): the valid call
/// runs, and each tensor argument null, disposed, from another backend's memory, or of a wrong shape is refused with
/// the exception a caller can catch and a message that names that argument, before any kernel runs.
/// </summary>
[TestFixture]
public class OpCaseTests
{
    public static IEnumerable<TestCaseData> Cases() =>
        from backend in TestBackends.AllNames
        from i in Enumerable.Range(0, OpCases.All.Count)
        select new TestCaseData(backend, i).SetName($"{OpCases.All[i].Op}#{i}({backend})");

    private static Tensor?[] Valid(IBackend be, OpCase c) =>
        c.Args.Select(a =>
        {
            var t = be.Allocate(a.Shape);
            t.CopyFrom(Enumerable.Range(0, (int)t.Length).Select(c.Fill).ToArray());
            return (Tensor?)t;
        }).ToArray();

    private static void DisposeAll(Tensor?[] ts) { foreach (var t in ts) t?.Dispose(); }

    /// <summary>The call with argument <paramref name="arg"/> replaced by <paramref name="with"/>; the rest valid.</summary>
    private static Action With(IBackend be, OpCase c, int arg, Tensor? with) => () =>
    {
        var ts = Valid(be, c);
        ts[arg]!.Dispose();
        ts[arg] = with;
        try { c.Call(be, ts); }
        finally { DisposeAll(ts); }
    };

    [TestCaseSource(nameof(Cases))]
    public void ValidCall_Runs(string backend, int i)
    {
        var be = TestBackends.Get(backend); var c = OpCases.All[i];
        var ts = Valid(be, c);
        try { Assert.DoesNotThrow(() => c.Call(be, ts)); }
        finally { DisposeAll(ts); }
    }

    [TestCaseSource(nameof(Cases))]
    public void EachArgument_NullDisposedOrForeign_IsRefusedNamingIt(string backend, int i)
    {
        var be = TestBackends.Get(backend); var c = OpCases.All[i];
        var foreign = new Float64Backend();
        for (int a = 0; a < c.Args.Length; a++)
        {
            var (name, shape, optional) = c.Args[a];
            string what = $"{c.Op} on {backend}, {name}";
            if (optional) Assert.DoesNotThrow(With(be, c, a, null), $"{what}: null is allowed");
            else
            {
                var e = Assert.Throws<ArgumentNullException>(With(be, c, a, null), $"{what} null");
                Assert.That(e!.ParamName, Is.EqualTo(name), what);
            }

            var dead = be.Allocate(shape); dead.Dispose();
            var d = Assert.Throws<ObjectDisposedException>(With(be, c, a, dead), $"{what} disposed");
            Assert.That(d!.Message, Does.Contain(name).And.Contain("disposed"), what);

            using var other = foreign.Allocate(shape);
            var f = Assert.Throws<ArgumentException>(With(be, c, a, other), $"{what} from {foreign.Name}");
            Assert.That(f!.ParamName, Is.EqualTo(name), what);
            Assert.That(f.Message, Does.Contain($"lives on backend '{foreign.Name}'"), what);
        }
    }

    [TestCaseSource(nameof(Cases))]
    public void WrongShapes_AreRefusedNamingTheArgument(string backend, int i)
    {
        var be = TestBackends.Get(backend); var c = OpCases.All[i];
        Assert.That(c.BadShapes, Is.Not.Empty, $"{c.Op} lists no wrong shape");
        foreach (var (arg, shape, names) in c.BadShapes)
        {
            var bad = be.Allocate(shape);
            var e = Assert.Throws<ArgumentException>(With(be, c, arg, bad), $"{c.Op} on {backend}, {c.Args[arg].Name} {ShapeMath.Format(shape)}");
            Assert.That(e!.ParamName, Is.EqualTo(names), e.Message);
            Assert.That(e.Message, Does.StartWith(c.Op.StartsWith("Conv2d") || c.Op.StartsWith("Pool2d") ? "" : c.Op), "the message names the op");
        }
    }

    [Test]
    public void EveryOp_HasACase()
    {
        var covered = OpCases.All.Select(c => c.Op).ToHashSet();
        Assert.That(OpCases.RequiredOps().Where(op => !covered.Contains(op)), Is.Empty,
            "an op of IBackend or of a plan has no entry in OpCases.All: add its valid call and its wrong shapes");
    }
}
