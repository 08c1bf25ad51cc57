using System.Buffers;
using FastConv.Backends.Managed;

namespace FastConv;

/// <summary>
/// What every host backend (reference, managed, native) shares: allocation in <see cref="HostStorage"/>, tensors checked
/// to be in host memory, and the step from checked tensors (<see cref="Backend"/> ran the argument rules) to raw memory.
/// Subclasses supply only the kernels: convolution, pooling and GEMM always; every other op's kernel is the managed one
/// (<see cref="ManagedKernels"/>) unless the backend overrides it, so a backend's overrides are its kernel table and the
/// managed kernel the fallback where it has none.
/// </summary>
public abstract unsafe class HostBackend : Backend
{
    public override Tensor Allocate(ReadOnlySpan<int> shape)
    {
        var s = shape.ToArray();
        return new Tensor(this, new HostStorage(ShapeMath.ElementCount(s, $"{Name}.Allocate")), s);
    }

    public override void CheckTensor(Tensor? t, string name, string op) => HostCheck.Check(t, name, op);

    private static float* P(Tensor t) => t.HostStorage.Pointer;
    private static Span<float> S(Tensor t) => t.HostStorage.Span(t.Length);

    protected override void GemmKernel(int m, int n, int k, Tensor a, bool transA, Tensor b, bool transB, Tensor c, float alpha, float beta) =>
        GemmCore(m, n, k, P(a), transA, P(b), transB, P(c), alpha, beta);
    protected abstract void GemmCore(int m, int n, int k, float* a, bool transA, float* b, bool transB, float* c, float alpha, float beta);

    protected override void BiasAddForwardKernel(int n, int c, int inner, Tensor x, Tensor bias) => BiasAddForwardCore(n, c, inner, P(x), P(bias));
    protected override void BiasAddBackwardKernel(int n, int c, int inner, Tensor dy, Tensor dbias) => BiasAddBackwardCore(n, c, inner, P(dy), P(dbias));
    protected virtual void BiasAddForwardCore(int n, int c, int inner, float* x, float* bias) =>
        ManagedKernels.BiasAddForward(n, c, inner, x, bias);
    protected virtual void BiasAddBackwardCore(int n, int c, int inner, float* dy, float* dbias) =>
        ManagedKernels.BiasAddBackward(n, c, inner, dy, dbias);

    protected override void ReluForwardKernel(Tensor x, Tensor y) => ReluForwardCore(S(x), S(y));
    protected override void ReluBackwardKernel(Tensor x, Tensor dy, Tensor dx) => ReluBackwardCore(S(x), S(dy), S(dx));
    protected virtual void ReluForwardCore(ReadOnlySpan<float> x, Span<float> y) =>
        ManagedKernels.ReluForward(x, y);
    protected virtual void ReluBackwardCore(ReadOnlySpan<float> x, ReadOnlySpan<float> dy, Span<float> dx) =>
        ManagedKernels.ReluBackward(x, dy, dx);

    protected override void EltwiseKernel(EltwiseOp op, Tensor x, Tensor? dy, Tensor y, float alpha) =>
        EltwiseCore(op, S(x), dy is null ? default : S(dy), S(y), alpha);
    /// <summary>An <see cref="EltwiseOp"/> on host memory: its managed kernel unless the backend has its own.</summary>
    protected virtual void EltwiseCore(EltwiseOp op, ReadOnlySpan<float> x, ReadOnlySpan<float> dy, Span<float> y, float alpha) =>
        op.Managed(x, dy, y, alpha);

    protected override void ConcatKernel(int n, int inner, Tensor part, int partChannels, Tensor whole, int wholeChannels, int offset, bool toWhole) =>
        ConcatCore(n, inner, P(part), partChannels, P(whole), wholeChannels, offset, toWhole);
    /// <summary>Channel concatenation (or its split) on host memory: a copy of one block per image.</summary>
    protected virtual void ConcatCore(int n, int inner, float* part, int partChannels, float* whole, int wholeChannels, int offset, bool toWhole) =>
        ManagedKernels.Concat(n, inner, part, partChannels, whole, wholeChannels, offset, toWhole);

    protected override void GlobalAvgPool2dForwardKernel(int n, int c, int hw, Tensor x, Tensor y) => GlobalAvgPool2dForwardCore(n, c, hw, P(x), P(y));
    protected override void GlobalAvgPool2dBackwardKernel(int n, int c, int hw, Tensor dy, Tensor dx) => GlobalAvgPool2dBackwardCore(n, c, hw, P(dy), P(dx));
    protected virtual void GlobalAvgPool2dForwardCore(int n, int c, int hw, float* x, float* y) =>
        ManagedKernels.GlobalAvgPool2dForward(n, c, hw, x, y);
    protected virtual void GlobalAvgPool2dBackwardCore(int n, int c, int hw, float* dy, float* dx) =>
        ManagedKernels.GlobalAvgPool2dBackward(n, c, hw, dy, dx);

    protected override void BatchNormForwardTrainingKernel(int n, int c, int hw, Tensor x, Tensor gamma, Tensor beta, Tensor y,
        Tensor saveMean, Tensor saveInvStd, Tensor runningMean, Tensor runningVar, float momentum, float epsilon, bool relu) =>
        BatchNormForwardTrainingCore(n, c, hw, new BatchNormPointers(P(x), P(gamma), P(beta), P(y), P(saveMean), P(saveInvStd),
            P(runningMean), P(runningVar)), momentum, epsilon, relu);

    protected override void BatchNormForwardInferenceKernel(int n, int c, int hw, Tensor x, Tensor gamma, Tensor beta,
        Tensor runningMean, Tensor runningVar, Tensor y, float epsilon, bool relu) =>
        BatchNormForwardInferenceCore(n, c, hw, new BatchNormPointers(P(x), P(gamma), P(beta), P(y), null, null,
            P(runningMean), P(runningVar)), epsilon, relu);

    protected override void BatchNormBackwardKernel(int n, int c, int hw, Tensor x, Tensor dy, Tensor gamma, Tensor saveMean,
        Tensor saveInvStd, Tensor dx, Tensor dgamma, Tensor dbeta, Tensor? reluBeta) =>
        BatchNormBackwardCore(n, c, hw, P(x), P(dy), P(gamma), reluBeta is null ? null : P(reluBeta), P(saveMean), P(saveInvStd),
            P(dx), P(dgamma), P(dbeta));

    public readonly struct BatchNormPointers(float* x, float* gamma, float* beta, float* y, float* saveMean, float* saveInvStd,
                                                float* runningMean, float* runningVar)
    {
        public readonly float* X = x, Gamma = gamma, Beta = beta, Y = y, SaveMean = saveMean, SaveInvStd = saveInvStd,
                               RunningMean = runningMean, RunningVar = runningVar;
    }

    protected virtual void BatchNormForwardTrainingCore(int n, int c, int hw, BatchNormPointers p, float momentum, float epsilon, bool relu) =>
        ManagedKernels.BatchNormForwardTraining(n, c, hw, p, momentum, epsilon, relu);
    protected virtual void BatchNormForwardInferenceCore(int n, int c, int hw, BatchNormPointers p, float epsilon, bool relu) =>
        ManagedKernels.BatchNormForwardInference(n, c, hw, p, epsilon, relu);
    /// <summary><paramref name="reluBeta"/>: null without the ReLU, else the forward's β (the mask is recomputed from x).</summary>
    protected virtual void BatchNormBackwardCore(int n, int c, int hw, float* x, float* dy, float* gamma, float* reluBeta, float* saveMean,
                                                  float* saveInvStd, float* dx, float* dgamma, float* dbeta) =>
        ManagedKernels.BatchNormBackward(n, c, hw, x, dy, gamma, reluBeta, saveMean, saveInvStd, dx, dgamma, dbeta);

    protected override void DropoutForwardKernel(Tensor x, Tensor y, Tensor mask, float p, ulong seed) => DropoutForwardCore(S(x), S(y), S(mask), p, seed);
    protected override void DropoutBackwardKernel(Tensor dy, Tensor mask, Tensor dx) => DropoutBackwardCore(S(dy), S(mask), S(dx));
    protected virtual void DropoutForwardCore(ReadOnlySpan<float> x, Span<float> y, Span<float> mask, float p, ulong seed) =>
        ManagedKernels.DropoutForward(x, y, mask, p, seed);
    protected virtual void DropoutBackwardCore(ReadOnlySpan<float> dy, ReadOnlySpan<float> mask, Span<float> dx) =>
        ManagedKernels.DropoutBackward(dy, mask, dx);

    protected override float SoftmaxCrossEntropyForwardKernel(int n, int k, Tensor logits, Tensor labels, Tensor probs)
    {
        using var lab = new LabelBuffer(labels, n, k, nameof(SoftmaxCrossEntropyForward));
        return SoftmaxCrossEntropyForwardCore(n, k, P(logits), lab.Span, P(probs));
    }

    protected override void SoftmaxCrossEntropyBackwardKernel(int n, int k, Tensor probs, Tensor labels, Tensor dlogits)
    {
        using var lab = new LabelBuffer(labels, n, k, nameof(SoftmaxCrossEntropyBackward));
        SoftmaxCrossEntropyBackwardCore(n, k, P(probs), lab.Span, P(dlogits));
    }

    /// <summary>Labels are class indices stored as floats; each must be a whole number in [0, classes). Read into a pooled array.</summary>
    private readonly ref struct LabelBuffer
    {
        private readonly int[] _rented;
        private readonly int _n;

        public LabelBuffer(Tensor labels, int n, int k, string op)
        {
            var pl = labels.HostStorage.Pointer;
            _rented = ArrayPool<int>.Shared.Rent(n);
            _n = n;
            for (int i = 0; i < n; i++)
            {
                float v = pl[i];
                if (!(v >= 0 && v < k) || v != MathF.Floor(v))
                {
                    Dispose();
                    throw BadLabel(op, i, v, k);
                }
                _rented[i] = (int)v;
            }
        }

        public ReadOnlySpan<int> Span => _rented.AsSpan(0, _n);
        public void Dispose() => ArrayPool<int>.Shared.Return(_rented);
    }

    protected virtual float SoftmaxCrossEntropyForwardCore(int n, int k, float* logits, ReadOnlySpan<int> labels, float* probs) =>
        ManagedKernels.SoftmaxCrossEntropyForward(n, k, logits, labels, probs);
    protected virtual void SoftmaxCrossEntropyBackwardCore(int n, int k, float* probs, ReadOnlySpan<int> labels, float* dlogits) =>
        ManagedKernels.SoftmaxCrossEntropyBackward(n, k, probs, labels, dlogits);

    protected override void SgdMomentumUpdateKernel(Tensor weights, Tensor grad, Tensor velocity, float lr, float momentum, float weightDecay, bool nesterov) =>
        SgdMomentumUpdateCore(S(weights), S(grad), S(velocity), lr, momentum, weightDecay, nesterov);

    protected override void AdamUpdateKernel(Tensor weights, Tensor grad, Tensor m, Tensor v,
                                             float lr, float beta1, float beta2, float epsilon, int step, float weightDecay) =>
        AdamUpdateCore(S(weights), S(grad), S(m), S(v), lr, beta1, beta2, epsilon, step, weightDecay);
    protected virtual void SgdMomentumUpdateCore(Span<float> w, ReadOnlySpan<float> g, Span<float> v, float lr, float momentum, float weightDecay, bool nesterov) =>
        ManagedKernels.SgdMomentumUpdate(w, g, v, lr, momentum, weightDecay, nesterov);
    protected virtual void AdamUpdateCore(Span<float> w, ReadOnlySpan<float> g, Span<float> m, Span<float> v,
                                           float lr, float beta1, float beta2, float epsilon, int step, float weightDecay) =>
        ManagedKernels.AdamUpdate(w, g, m, v, lr, beta1, beta2, epsilon, step, weightDecay);
}

/// <summary>A host convolution plan: the kernels on raw pointers, tensors checked by <see cref="Conv2dPlan"/>.</summary>
public abstract unsafe class HostConv2dPlan(Conv2dDesc desc) : Conv2dPlan(desc)
{
    protected override void CheckTensor(Tensor? t, string name, string op) => HostCheck.Check(t, name, op);

    protected override void ForwardKernel(Tensor x, Tensor w, Tensor? bias, Tensor y) =>
        ForwardCore(x.HostStorage.Pointer, w.HostStorage.Pointer, bias is null ? null : bias.HostStorage.Pointer, y.HostStorage.Pointer);
    protected override void BackwardDataKernel(Tensor dy, Tensor w, Tensor dx) =>
        BackwardDataCore(dy.HostStorage.Pointer, w.HostStorage.Pointer, dx.HostStorage.Pointer);
    protected override void BackwardFilterKernel(Tensor x, Tensor dy, Tensor dw, Tensor? dbias) =>
        BackwardFilterCore(x.HostStorage.Pointer, dy.HostStorage.Pointer, dw.HostStorage.Pointer, dbias is null ? null : dbias.HostStorage.Pointer);

    protected abstract void ForwardCore(float* x, float* w, float* bias, float* y);
    protected abstract void BackwardDataCore(float* dy, float* w, float* dx);
    protected abstract void BackwardFilterCore(float* x, float* dy, float* dw, float* dbias);
}

/// <summary>A host pooling plan: the kernels on raw pointers, tensors checked by <see cref="Pool2dPlan"/>.</summary>
public abstract unsafe class HostPool2dPlan(Pool2dDesc desc) : Pool2dPlan(desc)
{
    protected override void CheckTensor(Tensor? t, string name, string op) => HostCheck.Check(t, name, op);

    protected override void ForwardKernel(Tensor x, Tensor y) => ForwardCore(x.HostStorage.Pointer, y.HostStorage.Pointer);
    protected override void BackwardKernel(Tensor x, Tensor dy, Tensor dx) =>
        BackwardCore(x.HostStorage.Pointer, dy.HostStorage.Pointer, dx.HostStorage.Pointer);

    protected abstract void ForwardCore(float* x, float* y);
    protected abstract void BackwardCore(float* x, float* dy, float* dx);
}
