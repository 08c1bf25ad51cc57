using System.Buffers;
using FastConv.Backends.Managed;

namespace FastConv;

/// <summary>
/// What every host backend (reference, managed, native) shares: allocation in <see cref="HostStorage"/>, and the
/// argument checks of every op, done once here before any kernel runs. Subclasses supply only the kernels: convolution,
/// pooling and GEMM always; every other op's kernel is the managed one (<see cref="ManagedKernels"/>) unless the backend
/// overrides it, so a backend's overrides are its kernel table and the managed kernel the fallback where it has none.
/// </summary>
public abstract unsafe class HostBackend : IBackend
{
    public abstract string Name { get; }

    public Tensor Allocate(ReadOnlySpan<int> shape)
    {
        var s = shape.ToArray();
        return new Tensor(this, new HostStorage(ShapeMath.ElementCount(s, $"{Name}.Allocate")), s);
    }

    public virtual bool Supports(in Conv2dDesc desc) => true;
    public virtual bool Supports(in Pool2dDesc desc) => true;

    public IConv2dPlan CreateConv2d(in Conv2dDesc desc)
    {
        if (!Supports(desc)) throw new NotSupportedException($"Backend '{Name}' does not support {desc}.");
        return CreateConv2dCore(desc);
    }

    public IPool2dPlan CreatePool2d(in Pool2dDesc desc)
    {
        if (!Supports(desc)) throw new NotSupportedException($"Backend '{Name}' does not support {desc}.");
        return CreatePool2dCore(desc);
    }

    protected abstract IConv2dPlan CreateConv2dCore(in Conv2dDesc desc);
    protected abstract IPool2dPlan CreatePool2dCore(in Pool2dDesc desc);

    public void Gemm(Tensor a, Tensor b, Tensor c, bool transA = false, bool transB = false, float alpha = 1f, float beta = 0f)
    {
        const string op = "Gemm";
        HostCheck.Check(a, nameof(a), op); HostCheck.Check(b, nameof(b), op); HostCheck.Check(c, nameof(c), op);
        var (m, n, k) = OpCheck.Gemm(a, b, c, transA, transB, alpha, beta);
        using var verbose = Verbose.Op(Name, "gemm", $"m{m} n{n} k{k} ta{(transA ? 1 : 0)} tb{(transB ? 1 : 0)}");
        GemmCore(m, n, k, a.HostStorage.Pointer, transA, b.HostStorage.Pointer, transB, c.HostStorage.Pointer, alpha, beta);
    }

    protected abstract void GemmCore(int m, int n, int k, float* a, bool transA, float* b, bool transB, float* c, float alpha, float beta);

    public void BiasAdd(Tensor x, Tensor bias)
    {
        HostCheck.Check(x, nameof(x), nameof(BiasAdd));
        var (n, c, inner) = OpCheck.Channels(x, nameof(x), nameof(BiasAdd));
        var pb = HostCheck.Ptr(bias, nameof(bias), [c], nameof(BiasAdd));
        using var verbose = Log("bias_add", x);
        BiasAddCore(n, c, inner, x.HostStorage.Pointer, pb);
    }

    public void BiasBackward(Tensor dy, Tensor dbias)
    {
        HostCheck.Check(dy, nameof(dy), nameof(BiasBackward));
        var (n, c, inner) = OpCheck.Channels(dy, nameof(dy), nameof(BiasBackward));
        var pdb = HostCheck.Ptr(dbias, nameof(dbias), [c], nameof(BiasBackward));
        using var verbose = Log("bias_bwd", dy);
        BiasBackwardCore(n, c, inner, dy.HostStorage.Pointer, pdb);
    }

    protected virtual void BiasAddCore(int n, int c, int inner, float* x, float* bias) =>
        ManagedKernels.BiasAdd(n, c, inner, x, bias);
    protected virtual void BiasBackwardCore(int n, int c, int inner, float* dy, float* dbias) =>
        ManagedKernels.BiasBackward(n, c, inner, dy, dbias);

    public void ReluForward(Tensor x, Tensor y)
    {
        HostCheck.Check(x, nameof(x), nameof(ReluForward));
        var py = HostCheck.Ptr(y, nameof(y), x.Shape, nameof(ReluForward));
        using var verbose = Log("relu_fwd", x);
        ReluForwardCore(x.HostStorage.Span(x.Length), new Span<float>(py, (int)x.Length));
    }

    public void ReluBackward(Tensor x, Tensor dy, Tensor dx)
    {
        HostCheck.Check(x, nameof(x), nameof(ReluBackward));
        var pdy = HostCheck.Ptr(dy, nameof(dy), x.Shape, nameof(ReluBackward));
        var pdx = HostCheck.Ptr(dx, nameof(dx), x.Shape, nameof(ReluBackward));
        using var verbose = Log("relu_bwd", x);
        ReluBackwardCore(x.HostStorage.Span(x.Length), new Span<float>(pdy, (int)x.Length), new Span<float>(pdx, (int)x.Length));
    }

    protected virtual void ReluForwardCore(ReadOnlySpan<float> x, Span<float> y) =>
        ManagedKernels.ReluForward(x, y);
    protected virtual void ReluBackwardCore(ReadOnlySpan<float> x, ReadOnlySpan<float> dy, Span<float> dx) =>
        ManagedKernels.ReluBackward(x, dy, dx);

    public void GlobalAvgPoolForward(Tensor x, Tensor y)
    {
        HostCheck.Check(x, nameof(x), nameof(GlobalAvgPoolForward));
        var (n, c, hw) = OpCheck.Channels(x, nameof(x), nameof(GlobalAvgPoolForward));
        var py = HostCheck.Ptr(y, nameof(y), n * (long)c, nameof(GlobalAvgPoolForward));
        using var verbose = Log("gap_fwd", x);
        GlobalAvgPoolForwardCore(n, c, hw, x.HostStorage.Pointer, py);
    }

    public void GlobalAvgPoolBackward(Tensor dy, Tensor dx)
    {
        HostCheck.Check(dx, nameof(dx), nameof(GlobalAvgPoolBackward));
        var (n, c, hw) = OpCheck.Channels(dx, nameof(dx), nameof(GlobalAvgPoolBackward));
        var pdy = HostCheck.Ptr(dy, nameof(dy), n * (long)c, nameof(GlobalAvgPoolBackward));
        using var verbose = Log("gap_bwd", dx);
        GlobalAvgPoolBackwardCore(n, c, hw, pdy, dx.HostStorage.Pointer);
    }

    protected virtual void GlobalAvgPoolForwardCore(int n, int c, int hw, float* x, float* y) =>
        ManagedKernels.GlobalAvgPoolForward(n, c, hw, x, y);
    protected virtual void GlobalAvgPoolBackwardCore(int n, int c, int hw, float* dy, float* dx) =>
        ManagedKernels.GlobalAvgPoolBackward(n, c, hw, dy, dx);

    public void BatchNormForwardTraining(Tensor x, Tensor gamma, Tensor beta, Tensor y, Tensor saveMean, Tensor saveInvStd,
                                         Tensor runningMean, Tensor runningVar, float momentum, float epsilon)
    {
        const string op = nameof(BatchNormForwardTraining);
        HostCheck.Check(x, nameof(x), op);
        var (n, c, hw) = OpCheck.Channels(x, nameof(x), op);
        int[] ch = [c];
        var p = new BatchNormPointers(x.HostStorage.Pointer, HostCheck.Ptr(gamma, nameof(gamma), ch, op), HostCheck.Ptr(beta, nameof(beta), ch, op),
            HostCheck.Ptr(y, nameof(y), x.Shape, op), HostCheck.Ptr(saveMean, nameof(saveMean), ch, op), HostCheck.Ptr(saveInvStd, nameof(saveInvStd), ch, op),
            HostCheck.Ptr(runningMean, nameof(runningMean), ch, op), HostCheck.Ptr(runningVar, nameof(runningVar), ch, op));
        OpCheck.BatchNormTraining(momentum, epsilon, op);
        using var verbose = Log("batchnorm_fwd_train", x);
        BatchNormForwardTrainingCore(n, c, hw, p, momentum, epsilon);
    }

    public void BatchNormForwardInference(Tensor x, Tensor gamma, Tensor beta, Tensor runningMean, Tensor runningVar, Tensor y, float epsilon)
    {
        const string op = nameof(BatchNormForwardInference);
        HostCheck.Check(x, nameof(x), op);
        var (n, c, hw) = OpCheck.Channels(x, nameof(x), op);
        int[] ch = [c];
        var p = new BatchNormPointers(x.HostStorage.Pointer, HostCheck.Ptr(gamma, nameof(gamma), ch, op), HostCheck.Ptr(beta, nameof(beta), ch, op),
            HostCheck.Ptr(y, nameof(y), x.Shape, op), null, null,
            HostCheck.Ptr(runningMean, nameof(runningMean), ch, op), HostCheck.Ptr(runningVar, nameof(runningVar), ch, op));
        OpCheck.Finite(epsilon, nameof(epsilon), op, positive: true);
        using var verbose = Log("batchnorm_fwd_infer", x);
        BatchNormForwardInferenceCore(n, c, hw, p, epsilon);
    }

    public void BatchNormBackward(Tensor x, Tensor dy, Tensor gamma, Tensor saveMean, Tensor saveInvStd, Tensor dx, Tensor dgamma, Tensor dbeta)
    {
        const string op = nameof(BatchNormBackward);
        HostCheck.Check(x, nameof(x), op);
        var (n, c, hw) = OpCheck.Channels(x, nameof(x), op);
        int[] ch = [c];
        float* pdy = HostCheck.Ptr(dy, nameof(dy), x.Shape, op), pg = HostCheck.Ptr(gamma, nameof(gamma), ch, op);
        float* pm = HostCheck.Ptr(saveMean, nameof(saveMean), ch, op), ps = HostCheck.Ptr(saveInvStd, nameof(saveInvStd), ch, op);
        float* pdx = HostCheck.Ptr(dx, nameof(dx), x.Shape, op), pdg = HostCheck.Ptr(dgamma, nameof(dgamma), ch, op);
        float* pdb = HostCheck.Ptr(dbeta, nameof(dbeta), ch, op);
        using var verbose = Log("batchnorm_bwd", x);
        BatchNormBackwardCore(n, c, hw, x.HostStorage.Pointer, pdy, pg, pm, ps, pdx, pdg, pdb);
    }

    public readonly struct BatchNormPointers(float* x, float* gamma, float* beta, float* y, float* saveMean, float* saveInvStd,
                                                float* runningMean, float* runningVar)
    {
        public readonly float* X = x, Gamma = gamma, Beta = beta, Y = y, SaveMean = saveMean, SaveInvStd = saveInvStd,
                               RunningMean = runningMean, RunningVar = runningVar;
    }

    protected virtual void BatchNormForwardTrainingCore(int n, int c, int hw, BatchNormPointers p, float momentum, float epsilon) =>
        ManagedKernels.BatchNormForwardTraining(n, c, hw, p, momentum, epsilon);
    protected virtual void BatchNormForwardInferenceCore(int n, int c, int hw, BatchNormPointers p, float epsilon) =>
        ManagedKernels.BatchNormForwardInference(n, c, hw, p, epsilon);
    protected virtual void BatchNormBackwardCore(int n, int c, int hw, float* x, float* dy, float* gamma, float* saveMean, float* saveInvStd,
                                                  float* dx, float* dgamma, float* dbeta) =>
        ManagedKernels.BatchNormBackward(n, c, hw, x, dy, gamma, saveMean, saveInvStd, dx, dgamma, dbeta);

    public void DropoutForward(Tensor x, Tensor y, Tensor mask, float p, ulong seed)
    {
        HostCheck.Check(x, nameof(x), nameof(DropoutForward));
        var py = HostCheck.Ptr(y, nameof(y), x.Shape, nameof(DropoutForward));
        var pm = HostCheck.Ptr(mask, nameof(mask), x.Shape, nameof(DropoutForward));
        FastConv.Dropout.CheckP(p);
        int len = (int)x.Length;
        using var verbose = Log("dropout_fwd", x);
        DropoutForwardCore(x.HostStorage.Span(len), new Span<float>(py, len), new Span<float>(pm, len), p, seed);
    }

    public void DropoutBackward(Tensor dy, Tensor mask, Tensor dx)
    {
        HostCheck.Check(dy, nameof(dy), nameof(DropoutBackward));
        var pm = HostCheck.Ptr(mask, nameof(mask), dy.Shape, nameof(DropoutBackward));
        var pdx = HostCheck.Ptr(dx, nameof(dx), dy.Shape, nameof(DropoutBackward));
        int len = (int)dy.Length;
        using var verbose = Log("dropout_bwd", dy);
        DropoutBackwardCore(dy.HostStorage.Span(len), new Span<float>(pm, len), new Span<float>(pdx, len));
    }

    protected virtual void DropoutForwardCore(ReadOnlySpan<float> x, Span<float> y, Span<float> mask, float p, ulong seed) =>
        ManagedKernels.DropoutForward(x, y, mask, p, seed);
    protected virtual void DropoutBackwardCore(ReadOnlySpan<float> dy, ReadOnlySpan<float> mask, Span<float> dx) =>
        ManagedKernels.DropoutBackward(dy, mask, dx);

    public float SoftmaxCrossEntropyForward(Tensor logits, Tensor labels, Tensor probs)
    {
        const string op = nameof(SoftmaxCrossEntropyForward);
        var (n, k) = Logits(logits, op);
        var pp = HostCheck.Ptr(probs, nameof(probs), logits.Shape, op);
        using var lab = new LabelBuffer(labels, n, k, op);
        using var verbose = Log("softmax_xent_fwd", logits);
        return SoftmaxCrossEntropyForwardCore(n, k, logits.HostStorage.Pointer, lab.Span, pp);
    }

    public void SoftmaxCrossEntropyBackward(Tensor probs, Tensor labels, Tensor dlogits)
    {
        const string op = nameof(SoftmaxCrossEntropyBackward);
        var (n, k) = Logits(probs, op);
        var pd = HostCheck.Ptr(dlogits, nameof(dlogits), probs.Shape, op);
        using var lab = new LabelBuffer(labels, n, k, op);
        using var verbose = Log("softmax_xent_bwd", probs);
        SoftmaxCrossEntropyBackwardCore(n, k, probs.HostStorage.Pointer, lab.Span, pd);
    }

    private static (int N, int K) Logits(Tensor t, string op)
    {
        HostCheck.Check(t, "logits", op);
        return OpCheck.Logits(t, op);
    }

    /// <summary>Labels are class indices stored as floats; each must be a whole number in [0, classes). Read into a pooled array.</summary>
    private readonly ref struct LabelBuffer
    {
        private readonly int[] _rented;
        private readonly int _n;

        public LabelBuffer(Tensor labels, int n, int k, string op)
        {
            var pl = HostCheck.Ptr(labels, nameof(labels), [n], op);
            _rented = ArrayPool<int>.Shared.Rent(n);
            _n = n;
            for (int i = 0; i < n; i++)
            {
                float v = pl[i];
                if (!(v >= 0 && v < k) || v != MathF.Floor(v))
                {
                    Dispose();
                    throw new ArgumentOutOfRangeException(nameof(labels), v, $"{op}: label {i} is {v}, expected a class index in [0, {k}).");
                }
                _rented[i] = (int)v;
            }
        }

        public ReadOnlySpan<int> Span => _rented.AsSpan(0, _n);
        public void Dispose() => ArrayPool<int>.Shared.Return(_rented);
    }

    /// <summary>FASTCONV_VERBOSE: one line per op, naming this backend and the shape it ran on.</summary>
    private Verbose.Scope Log(string op, Tensor t)
    {
        return Verbose.Enabled ? Verbose.Op(Name, op, ShapeMath.Format(t.Shape)) : default;
    }

    protected virtual float SoftmaxCrossEntropyForwardCore(int n, int k, float* logits, ReadOnlySpan<int> labels, float* probs) =>
        ManagedKernels.SoftmaxCrossEntropyForward(n, k, logits, labels, probs);
    protected virtual void SoftmaxCrossEntropyBackwardCore(int n, int k, float* probs, ReadOnlySpan<int> labels, float* dlogits) =>
        ManagedKernels.SoftmaxCrossEntropyBackward(n, k, probs, labels, dlogits);

    public void SgdMomentumUpdate(Tensor weights, Tensor grad, Tensor velocity, float lr, float momentum, float weightDecay = 0f, bool nesterov = false)
    {
        const string op = nameof(SgdMomentumUpdate);
        HostCheck.Check(weights, nameof(weights), op);
        var pg = HostCheck.Ptr(grad, nameof(grad), weights.Shape, op);
        var pv = HostCheck.Ptr(velocity, nameof(velocity), weights.Shape, op);
        OpCheck.Sgd(lr, momentum, weightDecay, op);
        int len = (int)weights.Length;
        using var verbose = Log("sgd_update", weights);
        SgdMomentumUpdateCore(weights.HostStorage.Span(len), new Span<float>(pg, len), new Span<float>(pv, len), lr, momentum, weightDecay, nesterov);
    }

    public void AdamUpdate(Tensor weights, Tensor grad, Tensor m, Tensor v, float lr, float beta1, float beta2, float epsilon, int step, float weightDecay = 0f)
    {
        const string op = nameof(AdamUpdate);
        HostCheck.Check(weights, nameof(weights), op);
        var pg = HostCheck.Ptr(grad, nameof(grad), weights.Shape, op);
        var pm = HostCheck.Ptr(m, nameof(m), weights.Shape, op);
        var pv = HostCheck.Ptr(v, nameof(v), weights.Shape, op);
        OpCheck.Adam(lr, beta1, beta2, epsilon, step, weightDecay, op);
        int len = (int)weights.Length;
        using var verbose = Log("adam_update", weights);
        AdamUpdateCore(weights.HostStorage.Span(len), new Span<float>(pg, len), new Span<float>(pm, len), new Span<float>(pv, len),
                       lr, beta1, beta2, epsilon, step, weightDecay);
    }

    protected virtual void SgdMomentumUpdateCore(Span<float> w, ReadOnlySpan<float> g, Span<float> v, float lr, float momentum, float weightDecay, bool nesterov) =>
        ManagedKernels.SgdMomentumUpdate(w, g, v, lr, momentum, weightDecay, nesterov);
    protected virtual void AdamUpdateCore(Span<float> w, ReadOnlySpan<float> g, Span<float> m, Span<float> v,
                                           float lr, float beta1, float beta2, float epsilon, int step, float weightDecay) =>
        ManagedKernels.AdamUpdate(w, g, m, v, lr, beta1, beta2, epsilon, step, weightDecay);

    public override string ToString() => Name;
}

/// <summary>Argument checks of a host convolution plan; subclasses supply the kernels on raw pointers.</summary>
public abstract unsafe class HostConv2dPlan(Conv2dDesc desc) : IConv2dPlan
{
    public Conv2dDesc Desc { get; } = desc;
    public abstract string Implementation { get; }

    /// <summary>What runs for one op ("conv2d_fwd", "conv2d_bwd_data", "conv2d_bwd_filter"), as the verbose log names it:
    /// <see cref="Implementation"/>, unless the backend chooses per direction.</summary>
    protected virtual string ImplementationOf(string op) => Implementation;

    public void Forward(Tensor x, Tensor w, Tensor? bias, Tensor y)
    {
        const string op = "Conv2d.Forward";
        var d = Desc;
        var px = HostCheck.Ptr(x, nameof(x), d.InputShape, op);
        var pw = HostCheck.Ptr(w, nameof(w), d.WeightShape, op);
        var pb = bias is null ? null : HostCheck.Ptr(bias, nameof(bias), d.BiasShape, op);
        var py = HostCheck.Ptr(y, nameof(y), d.OutputShape, op);
        using var verbose = Verbose.Op(ImplementationOf("conv2d_fwd"), "conv2d_fwd", d);
        ForwardCore(px, pw, pb, py);
    }

    public void BackwardData(Tensor dy, Tensor w, Tensor dx)
    {
        const string op = "Conv2d.BackwardData";
        var d = Desc;
        var pdy = HostCheck.Ptr(dy, nameof(dy), d.OutputShape, op);
        var pw = HostCheck.Ptr(w, nameof(w), d.WeightShape, op);
        var pdx = HostCheck.Ptr(dx, nameof(dx), d.InputShape, op);
        using var verbose = Verbose.Op(ImplementationOf("conv2d_bwd_data"), "conv2d_bwd_data", d);
        BackwardDataCore(pdy, pw, pdx);
    }

    public void BackwardFilter(Tensor x, Tensor dy, Tensor dw, Tensor? dbias)
    {
        const string op = "Conv2d.BackwardFilter";
        var d = Desc;
        var px = HostCheck.Ptr(x, nameof(x), d.InputShape, op);
        var pdy = HostCheck.Ptr(dy, nameof(dy), d.OutputShape, op);
        var pdw = HostCheck.Ptr(dw, nameof(dw), d.WeightShape, op);
        var pdb = dbias is null ? null : HostCheck.Ptr(dbias, nameof(dbias), d.BiasShape, op);
        using var verbose = Verbose.Op(ImplementationOf("conv2d_bwd_filter"), "conv2d_bwd_filter", d);
        BackwardFilterCore(px, pdy, pdw, pdb);
    }

    protected abstract void ForwardCore(float* x, float* w, float* bias, float* y);
    protected abstract void BackwardDataCore(float* dy, float* w, float* dx);
    protected abstract void BackwardFilterCore(float* x, float* dy, float* dw, float* dbias);

    public virtual void Dispose() { }
}

public abstract unsafe class HostPool2dPlan(Pool2dDesc desc) : IPool2dPlan
{
    public Pool2dDesc Desc { get; } = desc;
    public abstract string Implementation { get; }

    public void Forward(Tensor x, Tensor y)
    {
        var px = HostCheck.Ptr(x, nameof(x), Desc.InputShape, "Pool2d.Forward");
        var py = HostCheck.Ptr(y, nameof(y), Desc.OutputShape, "Pool2d.Forward");
        using var verbose = Verbose.Op(Implementation, Desc.Kind == PoolKind.Max ? "maxpool2d_fwd" : "avgpool2d_fwd", Desc);
        ForwardCore(px, py);
    }

    public void Backward(Tensor x, Tensor dy, Tensor dx)
    {
        var px = HostCheck.Ptr(x, nameof(x), Desc.InputShape, "Pool2d.Backward");
        var pdy = HostCheck.Ptr(dy, nameof(dy), Desc.OutputShape, "Pool2d.Backward");
        var pdx = HostCheck.Ptr(dx, nameof(dx), Desc.InputShape, "Pool2d.Backward");
        using var verbose = Verbose.Op(Implementation, Desc.Kind == PoolKind.Max ? "maxpool2d_bwd" : "avgpool2d_bwd", Desc);
        BackwardCore(px, pdy, pdx);
    }

    protected abstract void ForwardCore(float* x, float* y);
    protected abstract void BackwardCore(float* x, float* dy, float* dx);

    public virtual void Dispose() { }
}
