using FastConv.Backends.Reference;
using FastConv.Tests.Support;

namespace FastConv.Tests.Parity;

/// <summary>The rest of the op set on every fast backend against the float64 reference kernels.</summary>
[TestFixture]
public class OpParityTests
{
    public static IEnumerable<string> Backends() => TestBackends.FastNames;

    private static double[] D(float[] a) => TestData.ToDouble(a);

    [TestCaseSource(nameof(Backends))]
    public void Gemm_AllTransposes_IntegerExact_And_RandomWithinTolerance(string backend)
    {
        var be = TestBackends.Get(backend);
        // m = 8, 20 and 64: AVX2 packs their last 8 or 4 rows as 4-row panels (fc_panel_rows); k = 530 and 700 span two
        // and three reduction blocks, so a panel's later blocks must be found at their offsets
        foreach (var (m, n, k) in new[] { (1, 1, 1), (7, 33, 5), (64, 10, 300), (9, 70, 17), (33, 65, 700), (8, 16, 3), (20, 37, 530) })
        foreach (bool ta in new[] { false, true })
        foreach (bool tb in new[] { false, true })
        foreach (bool ints in new[] { true, false })
        {
            var a = ints ? TestData.Ints((long)m * k, 1) : TestData.Uniform((long)m * k, 1);
            var b = ints ? TestData.Ints((long)k * n, 2) : TestData.Uniform((long)k * n, 2);
            var c0 = ints ? TestData.Ints((long)m * n, 3) : TestData.Uniform((long)m * n, 3);
            float alpha = ints ? 2f : 0.7f, beta = ints ? -1f : 0.3f;
            using var ta_ = TestData.Tensor(be, ta ? [k, m] : [m, k], a);
            using var tb_ = TestData.Tensor(be, tb ? [n, k] : [k, n], b);
            using var tc = TestData.Tensor(be, [m, n], c0);
            be.Gemm(ta_, tb_, tc, ta, tb, alpha, beta);
            string what = $"{backend} gemm m{m} n{n} k{k} ta{ta} tb{tb} {(ints ? "ints" : "random")}";
            if (ints)
            {
                var rc = (float[])c0.Clone();
                ReferenceKernels.Gemm<float>(m, n, k, a, ta, b, tb, rc, alpha, beta);
                Tolerance.Exact(tc.ToArray(), rc, what);
            }
            else
            {
                var ec = D(c0); var abs = Array.ConvertAll(ec, Math.Abs);
                ReferenceKernels.Gemm<double>(m, n, k, D(a), ta, D(b), tb, ec, alpha, beta);
                ReferenceKernels.Gemm<double>(m, n, k, TestData.Abs(D(a)), ta, TestData.Abs(D(b)), tb, abs, Math.Abs(alpha), Math.Abs(beta));
                Tolerance.Reduction(tc.ToArray(), ec, abs, k + 2, what);
            }
        }
    }

    [TestCaseSource(nameof(Backends))]
    public void BiasAddForward_And_Backward(string backend)
    {
        var be = TestBackends.Get(backend);
        int n = 3, c = 5, h = 4, w = 7;
        var x = TestData.Uniform(n * c * h * w, 1); var bias = TestData.Uniform(c, 2);
        using var tx = TestData.Tensor(be, [n, c, h, w], x);
        using var tb = TestData.Tensor(be, [c], bias);
        be.BiasAddForward(tx, tb);
        var ex = D(x);
        ReferenceKernels.BiasAddForward<double>(n, c, h * w, ex, D(bias));
        Tolerance.Elementwise(tx.ToArray(), ex, $"{backend} bias add", 1);

        using var db = be.Allocate([c]);
        be.BiasAddBackward(tx, db);
        var edb = new double[c]; var adb = new double[c];
        ReferenceKernels.BiasAddBackward<double>(n, c, h * w, ex, edb);
        ReferenceKernels.BiasAddBackward<double>(n, c, h * w, TestData.Abs(ex), adb);
        Tolerance.Reduction(db.ToArray(), edb, adb, n * h * w, $"{backend} bias backward");
    }

    [TestCaseSource(nameof(Backends))]
    public void Relu_ForwardBackward_Exact(string backend)
    {
        var be = TestBackends.Get(backend);
        var x = TestData.Ints(1000, 1, -5, 5); var dy = TestData.Uniform(1000, 2);
        using var tx = TestData.Tensor(be, [10, 100], x);
        using var ty = be.Allocate([10, 100]);
        using var tdy = TestData.Tensor(be, [10, 100], dy);
        using var tdx = be.Allocate([10, 100]);
        be.ReluForward(tx, ty);
        be.ReluBackward(tx, tdy, tdx);
        var ry = new float[1000]; var rdx = new float[1000];
        ReferenceKernels.ReluForward<float>(x, ry);
        ReferenceKernels.ReluBackward<float>(x, dy, rdx);
        Tolerance.Exact(ty.ToArray(), ry, $"{backend} relu forward");
        Tolerance.Exact(tdx.ToArray(), rdx, $"{backend} relu backward");
    }

    [TestCaseSource(nameof(Backends))]
    public void LeakyRelu_ForwardBackward_Exact(string backend)
    {
        var be = TestBackends.Get(backend);
        const int len = 1000 + 37;   // a tail after every vector width
        foreach (float alpha in new[] { 0f, 0.125f, 0.3f, 1f })
        {
            var x = TestData.Ints(len, 1, -5, 5); var dy = TestData.Uniform(len, 2);
            x[0] = -0f;
            using var tx = TestData.Tensor(be, [len], x); using var ty = be.Allocate([len]);
            using var tdy = TestData.Tensor(be, [len], dy); using var tdx = be.Allocate([len]);
            be.LeakyReluForward(tx, ty, alpha);
            be.LeakyReluBackward(tx, tdy, tdx, alpha);
            var ry = x.Select(v => (float)EltwiseOps.LeakyReluForward.Reference(v, 0, alpha)).ToArray();
            var rdx = x.Select((v, i) => (float)EltwiseOps.LeakyReluBackward.Reference(v, dy[i], alpha)).ToArray();
            Tolerance.Exact(ty.ToArray(), ry, $"{backend} leaky relu forward, alpha {alpha}");
            Tolerance.Exact(tdx.ToArray(), rdx, $"{backend} leaky relu backward, alpha {alpha}");
            be.LeakyReluBackward(tx, tdy, tdy, alpha);   // in place, as layers run ReLU
            be.LeakyReluForward(tx, tx, alpha);
            Tolerance.Exact(tdy.ToArray(), rdx, $"{backend} leaky relu backward in place, alpha {alpha}");
            Tolerance.Exact(tx.ToArray(), ry, $"{backend} leaky relu forward in place, alpha {alpha}");
        }
    }

    [TestCaseSource(nameof(Backends))]
    public void GlobalAvgPool_ForwardBackward(string backend)
    {
        var be = TestBackends.Get(backend);
        int n = 2, c = 3, hw = 49;
        var x = TestData.Uniform(n * c * hw, 1); var dy = TestData.Uniform(n * c, 2);
        using var tx = TestData.Tensor(be, [n, c, 7, 7], x);
        using var ty = be.Allocate([n, c]);
        using var tdy = TestData.Tensor(be, [n, c], dy);
        using var tdx = be.Allocate([n, c, 7, 7]);
        be.GlobalAvgPool2dForward(tx, ty);
        be.GlobalAvgPool2dBackward(tdy, tdx);
        var ey = new double[n * c]; var ay = new double[n * c]; var edx = new double[n * c * hw];
        ReferenceKernels.GlobalAvgPool2dForward<double>(n, c, hw, D(x), ey);
        ReferenceKernels.GlobalAvgPool2dForward<double>(n, c, hw, TestData.Abs(D(x)), ay);
        ReferenceKernels.GlobalAvgPool2dBackward<double>(n, c, hw, D(dy), edx);
        Tolerance.Reduction(ty.ToArray(), ey, ay, hw + 1, $"{backend} gap forward");
        Tolerance.Elementwise(tdx.ToArray(), edx, $"{backend} gap backward", 1);
    }

    [TestCaseSource(nameof(Backends))]
    public void BatchNorm_TrainingInferenceBackward(string backend) => BatchNormAgainstReference(backend, 4, 3, 5, 6);

    /// <summary>Planes wider than two AVX-512 vectors with a ragged tail, and a batch past the native kernels' threading
    /// threshold (2^15 values), so the vector loops and the channel split are both compared.</summary>
    [TestCaseSource(nameof(Backends))]
    public void BatchNorm_LargeBatch_VectorAndThreadedPaths(string backend) => BatchNormAgainstReference(backend, 8, 16, 9, 37);

    /// <summary>The batch norm with its ReLU fused (forward: max(0, ·) of the output; backward: the gradient masked where
    /// that output was 0, the mask recomputed from x) gives the bits of the batch norm, then the ReLU, on every backend:
    /// small planes, and planes with vector loops, ragged tails and the threaded channel split.</summary>
    [TestCaseSource(nameof(Backends))]
    public void BatchNormRelu_SameBitsAsBatchNormThenRelu(string backend)
    {
        var be = TestBackends.Get(backend);
        foreach (var (n, c, h, w) in new[] { (4, 3, 5, 6), (8, 16, 9, 37) })
        {
            int[] shape = [n, c, h, w];
            int len = n * c * h * w;
            var x = TestData.Uniform(len, 11, 3f); var gamma = TestData.Uniform(c, 12); var beta = TestData.Uniform(c, 13);
            using var tx = TestData.Tensor(be, shape, x); using var tg = TestData.Tensor(be, [c], gamma); using var tb = TestData.Tensor(be, [c], beta);
            using var tdy = TestData.Tensor(be, shape, TestData.Uniform(len, 14));
            (float[] Y, float[] Dx, float[] Dg, float[] Db, float[] Yi) Run(bool fused)
            {
                using var ty = be.Allocate(shape); using var tm = be.Allocate([c]); using var ts = be.Allocate([c]);
                using var trm = TestData.Tensor(be, [c], new float[c]); using var trv = TestData.Tensor(be, [c], Enumerable.Repeat(1.5f, c).ToArray());
                using var tdx = be.Allocate(shape); using var tdg = be.Allocate([c]); using var tdb = be.Allocate([c]);
                using var tyi = be.Allocate(shape);
                be.BatchNormForwardTraining(tx, tg, tb, ty, tm, ts, trm, trv, 0.1f, 1e-5f, relu: fused);
                if (fused) be.BatchNormBackward(tx, tdy, tg, tm, ts, tdx, tdg, tdb, relu: true, beta: tb);
                else
                {
                    using var g = be.Allocate(shape);
                    be.ReluBackward(ty, tdy, g);
                    be.BatchNormBackward(tx, g, tg, tm, ts, tdx, tdg, tdb);
                    be.ReluForward(ty, ty);
                }
                be.BatchNormForwardInference(tx, tg, tb, trm, trv, tyi, 1e-5f, relu: fused);
                if (!fused) be.ReluForward(tyi, tyi);
                return (ty.ToArray(), tdx.ToArray(), tdg.ToArray(), tdb.ToArray(), tyi.ToArray());
            }
            var f = Run(true);
            var p = Run(false);
            string at = $"{backend} N{n} C{c} {h}x{w}";
            Assert.That(f.Y, Is.EqualTo(p.Y), $"{at}: training forward");
            Assert.That(f.Y.Count(v => v == 0), Is.InRange(len / 5, 4 * len / 5), $"{at}: the ReLU zeroes part of the output");
            Assert.That(f.Dx, Is.EqualTo(p.Dx), $"{at}: dx");
            Assert.That(f.Dg, Is.EqualTo(p.Dg), $"{at}: dgamma");
            Assert.That(f.Db, Is.EqualTo(p.Db), $"{at}: dbeta");
            Assert.That(f.Yi, Is.EqualTo(p.Yi), $"{at}: inference forward");
        }
        using var t = be.Allocate([1, 1, 1, 1]); using var v = be.Allocate([1]);
        Assert.That(() => be.BatchNormBackward(t, t, v, v, v, t, v, v, relu: true),
            Throws.TypeOf<ArgumentNullException>().With.Message.Contains("relu needs the forward's beta"));
    }

    private static void BatchNormAgainstReference(string backend, int n, int c, int h, int w)
    {
        var be = TestBackends.Get(backend);
        int hw = h * w;
        int[] shape = [n, c, h, w];
        var x = TestData.Uniform(n * c * hw, 1, 3f); var gamma = TestData.Uniform(c, 2); var beta = TestData.Uniform(c, 3);
        var dy = TestData.Uniform(n * c * hw, 4); var rm0 = TestData.Uniform(c, 5); var rv0 = Array.ConvertAll(TestData.Uniform(c, 6), v => 1 + Math.Abs(v));
        using var tx = TestData.Tensor(be, shape, x); using var tg = TestData.Tensor(be, [c], gamma); using var tb = TestData.Tensor(be, [c], beta);
        using var ty = be.Allocate(shape); using var tm = be.Allocate([c]); using var ts = be.Allocate([c]);
        using var trm = TestData.Tensor(be, [c], rm0); using var trv = TestData.Tensor(be, [c], rv0);
        be.BatchNormForwardTraining(tx, tg, tb, ty, tm, ts, trm, trv, 0.1f, 1e-5f);

        double[] ey = new double[x.Length], em = new double[c], es = new double[c], erm = D(rm0), erv = D(rv0);
        ReferenceKernels.BatchNormForwardTraining<double>(n, c, hw, D(x), D(gamma), D(beta), ey, em, es, erm, erv, 0.1, 1e-5);
        Tolerance.Elementwise(ty.ToArray(), ey, $"{backend} batchnorm train y", 4 * hw);
        Tolerance.Elementwise(tm.ToArray(), em, $"{backend} batchnorm mean", n * hw);
        Tolerance.Elementwise(ts.ToArray(), es, $"{backend} batchnorm inv std", 4 * n * hw);
        Tolerance.Elementwise(trm.ToArray(), erm, $"{backend} batchnorm running mean", n * hw);
        Tolerance.Elementwise(trv.ToArray(), erv, $"{backend} batchnorm running var", 4 * n * hw);

        using var tdy = TestData.Tensor(be, shape, dy); using var tdx = be.Allocate(shape);
        using var tdg = be.Allocate([c]); using var tdb = be.Allocate([c]);
        be.BatchNormBackward(tx, tdy, tg, tm, ts, tdx, tdg, tdb);
        double[] edx = new double[x.Length], edg = new double[c], edb = new double[c];
        ReferenceKernels.BatchNormBackward<double>(n, c, hw, D(x), D(dy), D(gamma), em, es, edx, edg, edb);
        Tolerance.Elementwise(tdb.ToArray(), edb, $"{backend} batchnorm dbeta", n * hw);
        Tolerance.Elementwise(tdg.ToArray(), edg, $"{backend} batchnorm dgamma", 4 * n * hw);
        Tolerance.Elementwise(tdx.ToArray(), edx, $"{backend} batchnorm dx", 8 * n * hw);

        be.BatchNormForwardInference(tx, tg, tb, trm, trv, ty, 1e-5f);
        ReferenceKernels.BatchNormForwardInference<double>(n, c, hw, D(x), D(gamma), D(beta), D(trm.ToArray()), D(trv.ToArray()), ey, 1e-5);
        Tolerance.Elementwise(ty.ToArray(), ey, $"{backend} batchnorm inference", 8);
    }

    [TestCaseSource(nameof(Backends))]
    public void Dropout_SameMaskAsReference(string backend)
    {
        var be = TestBackends.Get(backend);
        var x = TestData.Uniform(4000, 1); var dy = TestData.Uniform(4000, 2);
        using var tx = TestData.Tensor(be, [40, 100], x); using var ty = be.Allocate([40, 100]); using var tm = be.Allocate([40, 100]);
        using var tdy = TestData.Tensor(be, [40, 100], dy); using var tdx = be.Allocate([40, 100]);
        be.DropoutForward(tx, ty, tm, 0.3f, 1234);
        be.DropoutBackward(tdy, tm, tdx);
        float[] ry = new float[4000], rm = new float[4000], rdx = new float[4000];
        ReferenceKernels.DropoutForward<float>(x, ry, rm, 0.3f, 1234);
        ReferenceKernels.DropoutBackward<float>(dy, rm, rdx);
        Tolerance.Exact(tm.ToArray(), rm, $"{backend} dropout mask");
        Tolerance.Exact(ty.ToArray(), ry, $"{backend} dropout y");
        Tolerance.Exact(tdx.ToArray(), rdx, $"{backend} dropout dx");
        double kept = rm.Count(v => v != 0) / 4000.0;
        Assert.That(kept, Is.EqualTo(0.7).Within(0.03), "fraction kept");
    }

    [TestCaseSource(nameof(Backends))]
    public void SoftmaxCrossEntropy_ForwardBackward(string backend)
    {
        var be = TestBackends.Get(backend);
        int n = 16, k = 10;
        var logits = TestData.Uniform(n * k, 1, 5f);
        var labels = Enumerable.Range(0, n).Select(i => (float)((i * 7) % k)).ToArray();
        using var tl = TestData.Tensor(be, [n, k], logits); using var tlab = TestData.Tensor(be, [n], labels);
        using var tp = be.Allocate([n, k]); using var td = be.Allocate([n, k]);
        float loss = be.SoftmaxCrossEntropyForward(tl, tlab, tp);
        be.SoftmaxCrossEntropyBackward(tp, tlab, td);
        var ep = new double[n * k]; var ed = new double[n * k];
        var ilab = Array.ConvertAll(labels, v => (int)v);
        double eloss = ReferenceKernels.SoftmaxCrossEntropyForward<double>(n, k, D(logits), ilab, ep);
        ReferenceKernels.SoftmaxCrossEntropyBackward<double>(n, k, ep, ilab, ed);
        Tolerance.Scalar(loss, eloss, Tolerance.SoftmaxCrossEntropyBound(n, k, D(logits), ilab), $"{backend} softmax loss");
        Tolerance.Elementwise(tp.ToArray(), ep, $"{backend} softmax probs", 4 * k);
        Tolerance.Elementwise(td.ToArray(), ed, $"{backend} softmax dlogits", 4 * k);
    }

    [TestCaseSource(nameof(Backends))]
    public void Optimizers_SgdNesterovAdam_MatchReferenceOverSteps(string backend)
    {
        var be = TestBackends.Get(backend);
        const int len = 300;
        foreach (var (name, nesterov, wd) in new[] { ("sgd", false, 0f), ("sgd-wd", false, 1e-3f), ("nesterov", true, 1e-3f), ("adam", false, 0f), ("adam-wd", false, 1e-3f) })
        {
            var w0 = TestData.Uniform(len, 1);
            using var tw = TestData.Tensor(be, [len], w0); using var tg = be.Allocate([len]);
            using var tv = be.Allocate([len]); using var tm = be.Allocate([len]);
            double[] w = D(w0), v = new double[len], m = new double[len];
            for (int step = 1; step <= 5; step++)
            {
                var g = TestData.Uniform(len, 10 + step);
                tg.CopyFrom(g);
                if (name.StartsWith("adam"))
                {
                    be.AdamUpdate(tw, tg, tm, tv, 0.01f, 0.9f, 0.999f, 1e-8f, step, wd);
                    ReferenceKernels.AdamUpdate<double>(w, D(g), m, v, 0.01, 0.9, 0.999, 1e-8, step, wd);
                }
                else
                {
                    be.SgdMomentumUpdate(tw, tg, tv, 0.1f, 0.9f, wd, nesterov);
                    ReferenceKernels.SgdMomentumUpdate<double>(w, D(g), v, 0.1, 0.9, wd, nesterov);
                }
            }
            Tolerance.Elementwise(tw.ToArray(), w, $"{backend} {name} weights after 5 steps", 64);
        }
    }
}
