using FastConv.Backends.Reference;

namespace FastConv.Tests.Support;

/// <summary>Tensor storage in double, so the reference kernels run in float64 behind the float32 Tensor API.</summary>
public sealed class DoubleStorage(long length) : TensorStorage
{
    public double[] Data { get; } = new double[length];
    private bool _disposed;
    public override long Length => Data.LongLength;
    public override bool IsDisposed => _disposed;
    public override void Write(ReadOnlySpan<float> source, long offset) { for (int i = 0; i < source.Length; i++) Data[offset + i] = source[i]; }
    public override void Read(long offset, Span<float> destination) { for (int i = 0; i < destination.Length; i++) destination[i] = (float)Data[offset + i]; }
    public override void Dispose() => _disposed = true;
}

/// <summary>
/// A test-only backend: <see cref="ReferenceKernels"/> in double on <see cref="DoubleStorage"/>. The layers of
/// FastConv.Nn run on it unchanged — which both proves they touch tensors only through IBackend and lets their
/// backward passes be checked against float64 central differences (CS231n's rel_error ≤ 1e-7).
/// Not registered: it exists for gradient checks, and does none of the argument checking of the real backends.
/// </summary>
public sealed class Float64Backend : IBackend
{
    public string Name => "reference:f64";

    public static double[] D(Tensor t) => ((DoubleStorage)t.Storage).Data;

    public Tensor Allocate(ReadOnlySpan<int> shape)
    {
        long n = ShapeMath.ElementCount(shape, "Float64Backend");
        return new Tensor(this, new DoubleStorage(n), shape.ToArray());
    }

    public bool Supports(in Conv2dDesc desc) => true;
    public bool Supports(in Pool2dDesc desc) => true;
    public IConv2dPlan CreateConv2d(in Conv2dDesc desc) => new Conv(desc);
    public IPool2dPlan CreatePool2d(in Pool2dDesc desc) => new Pool(desc);

    private static (int N, int C, int Inner) Nci(Tensor x) =>
        (x.Dim(0), x.Dim(1), checked((int)(x.Length / ((long)x.Dim(0) * x.Dim(1)))));

    private sealed class Conv(Conv2dDesc d) : IConv2dPlan
    {
        public Conv2dDesc Desc => d;
        public string Implementation => "reference:f64";
        public void Forward(Tensor x, Tensor w, Tensor? bias, Tensor y) => ReferenceKernels.Conv2dForward<double>(d, D(x), D(w), bias is null ? default : D(bias), D(y));
        public void BackwardData(Tensor dy, Tensor w, Tensor dx) => ReferenceKernels.Conv2dBackwardData<double>(d, D(dy), D(w), D(dx));
        public void BackwardFilter(Tensor x, Tensor dy, Tensor dw, Tensor? dbias) =>
            ReferenceKernels.Conv2dBackwardFilter<double>(d, D(x), D(dy), D(dw), dbias is null ? default : D(dbias));
        public void Dispose() { }
    }

    private sealed class Pool(Pool2dDesc d) : IPool2dPlan
    {
        public Pool2dDesc Desc => d;
        public string Implementation => "reference:f64";
        public void Forward(Tensor x, Tensor y) => ReferenceKernels.Pool2dForward<double>(d, D(x), D(y));
        public void Backward(Tensor x, Tensor dy, Tensor dx) => ReferenceKernels.Pool2dBackward<double>(d, D(x), D(dy), D(dx));
        public void Dispose() { }
    }

    public void Gemm(Tensor a, Tensor b, Tensor c, bool transA = false, bool transB = false, float alpha = 1, float beta = 0)
    {
        int m = c.Dim(0), n = c.Dim(1), k = transA ? a.Dim(0) : a.Dim(1);
        ReferenceKernels.Gemm<double>(m, n, k, D(a), transA, D(b), transB, D(c), alpha, beta);
    }

    public void BiasAddForward(Tensor x, Tensor bias) { var (n, c, i) = Nci(x); ReferenceKernels.BiasAddForward<double>(n, c, i, D(x), D(bias)); }
    public void BiasAddBackward(Tensor dy, Tensor dbias) { var (n, c, i) = Nci(dy); ReferenceKernels.BiasAddBackward<double>(n, c, i, D(dy), D(dbias)); }
    public void ReluForward(Tensor x, Tensor y) => ReferenceKernels.ReluForward<double>(D(x), D(y));
    public void ReluBackward(Tensor x, Tensor dy, Tensor dx) => ReferenceKernels.ReluBackward<double>(D(x), D(dy), D(dx));
    public void LeakyReluForward(Tensor x, Tensor y, float alpha) => Eltwise(EltwiseOps.LeakyReluForward, x, null, y, alpha);
    public void LeakyReluBackward(Tensor x, Tensor dy, Tensor dx, float alpha) => Eltwise(EltwiseOps.LeakyReluBackward, x, dy, dx, alpha);

    private static void Eltwise(EltwiseOp op, Tensor x, Tensor? dy, Tensor y, float alpha)
    {
        double[] px = D(x), py = D(y), pdy = dy is null ? [] : D(dy);
        for (int i = 0; i < px.Length; i++) py[i] = op.Reference(px[i], dy is null ? 0 : pdy[i], alpha);
    }
    public void AddForward(Tensor a, Tensor b, Tensor y) => Eltwise(EltwiseOps.Add, a, b, y, 1f);
    public void AddForward(Tensor a, Tensor b, Tensor y, float alpha) => Eltwise(EltwiseOps.Add, a, b, y, alpha);

    public void ConcatForward(IReadOnlyList<Tensor> xs, Tensor y) => Concat(xs, y, toWhole: true);
    public void ConcatBackward(Tensor dy, IReadOnlyList<Tensor> dxs) => Concat(dxs, dy, toWhole: false);

    private static void Concat(IReadOnlyList<Tensor> parts, Tensor whole, bool toWhole)
    {
        var (n, c, inner) = Nci(whole);
        int offset = 0;
        foreach (var p in parts) { ReferenceKernels.Concat<double>(n, inner, D(p), p.Dim(1), D(whole), c, offset, toWhole); offset += p.Dim(1); }
    }

    public void GlobalAvgPool2dForward(Tensor x, Tensor y) { var (n, c, hw) = Nci(x); ReferenceKernels.GlobalAvgPool2dForward<double>(n, c, hw, D(x), D(y)); }
    public void GlobalAvgPool2dBackward(Tensor dy, Tensor dx) { var (n, c, hw) = Nci(dx); ReferenceKernels.GlobalAvgPool2dBackward<double>(n, c, hw, D(dy), D(dx)); }

    public void BatchNormForwardTraining(Tensor x, Tensor gamma, Tensor beta, Tensor y, Tensor saveMean, Tensor saveInvStd,
                                         Tensor runningMean, Tensor runningVar, float momentum, float epsilon, bool relu = false)
    {
        var (n, c, hw) = Nci(x);
        ReferenceKernels.BatchNormForwardTraining<double>(n, c, hw, D(x), D(gamma), D(beta), D(y), D(saveMean), D(saveInvStd),
            D(runningMean), D(runningVar), momentum, epsilon, relu);
    }

    public void BatchNormForwardInference(Tensor x, Tensor gamma, Tensor beta, Tensor runningMean, Tensor runningVar, Tensor y, float epsilon,
                                          bool relu = false)
    {
        var (n, c, hw) = Nci(x);
        ReferenceKernels.BatchNormForwardInference<double>(n, c, hw, D(x), D(gamma), D(beta), D(runningMean), D(runningVar), D(y), epsilon, relu);
    }

    public void BatchNormBackward(Tensor x, Tensor dy, Tensor gamma, Tensor saveMean, Tensor saveInvStd, Tensor dx, Tensor dgamma, Tensor dbeta,
                                  bool relu = false, Tensor? beta = null)
    {
        var (n, c, hw) = Nci(x);
        ReferenceKernels.BatchNormBackward<double>(n, c, hw, D(x), D(dy), D(gamma), D(saveMean), D(saveInvStd), D(dx), D(dgamma), D(dbeta),
            relu ? D(beta!) : default);
    }

    public void DropoutForward(Tensor x, Tensor y, Tensor mask, float p, ulong seed) => ReferenceKernels.DropoutForward<double>(D(x), D(y), D(mask), p, seed);
    public void DropoutBackward(Tensor dy, Tensor mask, Tensor dx) => ReferenceKernels.DropoutBackward<double>(D(dy), D(mask), D(dx));

    private static int[] Labels(Tensor labels) => D(labels).Select(v => (int)v).ToArray();

    public float SoftmaxCrossEntropyForward(Tensor logits, Tensor labels, Tensor probs) =>
        (float)ReferenceKernels.SoftmaxCrossEntropyForward<double>(logits.Dim(0), logits.Dim(1), D(logits), Labels(labels), D(probs));

    public void SoftmaxCrossEntropyBackward(Tensor probs, Tensor labels, Tensor dlogits) =>
        ReferenceKernels.SoftmaxCrossEntropyBackward<double>(probs.Dim(0), probs.Dim(1), D(probs), Labels(labels), D(dlogits));

    public void SgdMomentumUpdate(Tensor weights, Tensor grad, Tensor velocity, float lr, float momentum, float weightDecay = 0, bool nesterov = false) =>
        ReferenceKernels.SgdMomentumUpdate<double>(D(weights), D(grad), D(velocity), lr, momentum, weightDecay, nesterov);

    public void AdamUpdate(Tensor weights, Tensor grad, Tensor m, Tensor v, float lr, float beta1, float beta2, float epsilon, int step, float weightDecay = 0) =>
        ReferenceKernels.AdamUpdate<double>(D(weights), D(grad), D(m), D(v), lr, beta1, beta2, epsilon, step, weightDecay);
}
