namespace FastConv.Backends.Reference;

/// <summary>The oracle backend: <see cref="ReferenceKernels"/> in float, one naive loop nest per op.</summary>
public sealed unsafe class ReferenceBackend : HostBackend
{
    public override string Name => "reference";

    private static Span<float> S(float* p, long n) => new(p, checked((int)n));

    protected override IConv2dPlan CreateConv2dCore(in Conv2dDesc desc) => new Conv(desc);
    protected override IPool2dPlan CreatePool2dCore(in Pool2dDesc desc) => new Pool(desc);

    private sealed class Conv(Conv2dDesc d) : HostConv2dPlan(d)
    {
        public override string Implementation => "reference:direct";

        protected override void ForwardCore(float* x, float* w, float* bias, float* y) =>
            ReferenceKernels.Conv2dForward<float>(Desc, S(x, Desc.InputElements), S(w, Desc.WeightElements),
                bias == null ? default : S(bias, Desc.K), S(y, Desc.OutputElements));

        protected override void BackwardDataCore(float* dy, float* w, float* dx) =>
            ReferenceKernels.Conv2dBackwardData<float>(Desc, S(dy, Desc.OutputElements), S(w, Desc.WeightElements), S(dx, Desc.InputElements));

        protected override void BackwardFilterCore(float* x, float* dy, float* dw, float* dbias) =>
            ReferenceKernels.Conv2dBackwardFilter<float>(Desc, S(x, Desc.InputElements), S(dy, Desc.OutputElements),
                S(dw, Desc.WeightElements), dbias == null ? default : S(dbias, Desc.K));
    }

    private sealed class Pool(Pool2dDesc d) : HostPool2dPlan(d)
    {
        public override string Implementation => "reference:direct";
        protected override void ForwardCore(float* x, float* y) =>
            ReferenceKernels.Pool2dForward<float>(Desc, S(x, Desc.InputElements), S(y, Desc.OutputElements));
        protected override void BackwardCore(float* x, float* dy, float* dx) =>
            ReferenceKernels.Pool2dBackward<float>(Desc, S(x, Desc.InputElements), S(dy, Desc.OutputElements), S(dx, Desc.InputElements));
    }

    protected override void GemmCore(int m, int n, int k, float* a, bool transA, float* b, bool transB, float* c, float alpha, float beta) =>
        ReferenceKernels.Gemm<float>(m, n, k, S(a, (long)m * k), transA, S(b, (long)k * n), transB, S(c, (long)m * n), alpha, beta);

    protected override void BiasAddForwardCore(int n, int c, int inner, float* x, float* bias) =>
        ReferenceKernels.BiasAddForward<float>(n, c, inner, S(x, (long)n * c * inner), S(bias, c));

    protected override void BiasAddBackwardCore(int n, int c, int inner, float* dy, float* dbias) =>
        ReferenceKernels.BiasAddBackward<float>(n, c, inner, S(dy, (long)n * c * inner), S(dbias, c));

    protected override void ReluForwardCore(ReadOnlySpan<float> x, Span<float> y) => ReferenceKernels.ReluForward(x, y);
    protected override void ReluBackwardCore(ReadOnlySpan<float> x, ReadOnlySpan<float> dy, Span<float> dx) => ReferenceKernels.ReluBackward(x, dy, dx);

    protected override void EltwiseCore(EltwiseOp op, ReadOnlySpan<float> x, ReadOnlySpan<float> dy, Span<float> y, float alpha)
    {
        for (int i = 0; i < x.Length; i++) y[i] = (float)op.Reference(x[i], op.Backward ? dy[i] : 0, alpha);
    }

    protected override void ConcatCore(int n, int inner, float* part, int partChannels, float* whole, int wholeChannels, int offset, bool toWhole) =>
        ReferenceKernels.Concat<float>(n, inner, S(part, (long)n * partChannels * inner), partChannels,
            S(whole, (long)n * wholeChannels * inner), wholeChannels, offset, toWhole);

    protected override void GlobalAvgPool2dForwardCore(int n, int c, int hw, float* x, float* y) =>
        ReferenceKernels.GlobalAvgPool2dForward<float>(n, c, hw, S(x, (long)n * c * hw), S(y, (long)n * c));

    protected override void GlobalAvgPool2dBackwardCore(int n, int c, int hw, float* dy, float* dx) =>
        ReferenceKernels.GlobalAvgPool2dBackward<float>(n, c, hw, S(dy, (long)n * c), S(dx, (long)n * c * hw));

    protected override void BatchNormForwardTrainingCore(int n, int c, int hw, BatchNormPointers p, float momentum, float epsilon, bool relu)
    {
        long len = (long)n * c * hw;
        ReferenceKernels.BatchNormForwardTraining<float>(n, c, hw, S(p.X, len), S(p.Gamma, c), S(p.Beta, c), S(p.Y, len),
            S(p.SaveMean, c), S(p.SaveInvStd, c), S(p.RunningMean, c), S(p.RunningVar, c), momentum, epsilon, relu);
    }

    protected override void BatchNormForwardInferenceCore(int n, int c, int hw, BatchNormPointers p, float epsilon, bool relu)
    {
        long len = (long)n * c * hw;
        ReferenceKernels.BatchNormForwardInference<float>(n, c, hw, S(p.X, len), S(p.Gamma, c), S(p.Beta, c),
            S(p.RunningMean, c), S(p.RunningVar, c), S(p.Y, len), epsilon, relu);
    }

    protected override void BatchNormBackwardCore(int n, int c, int hw, float* x, float* dy, float* gamma, float* reluBeta, float* saveMean,
                                                  float* saveInvStd, float* dx, float* dgamma, float* dbeta)
    {
        long len = (long)n * c * hw;
        ReferenceKernels.BatchNormBackward<float>(n, c, hw, S(x, len), S(dy, len), S(gamma, c), S(saveMean, c), S(saveInvStd, c),
            S(dx, len), S(dgamma, c), S(dbeta, c), reluBeta is null ? default : S(reluBeta, c));
    }

    protected override void DropoutForwardCore(ReadOnlySpan<float> x, Span<float> y, Span<float> mask, float p, ulong seed) =>
        ReferenceKernels.DropoutForward(x, y, mask, p, seed);

    protected override void DropoutBackwardCore(ReadOnlySpan<float> dy, ReadOnlySpan<float> mask, Span<float> dx) =>
        ReferenceKernels.DropoutBackward(dy, mask, dx);

    protected override float SoftmaxCrossEntropyForwardCore(int n, int k, float* logits, ReadOnlySpan<int> labels, float* probs) =>
        ReferenceKernels.SoftmaxCrossEntropyForward<float>(n, k, S(logits, (long)n * k), labels, S(probs, (long)n * k));

    protected override void SoftmaxCrossEntropyBackwardCore(int n, int k, float* probs, ReadOnlySpan<int> labels, float* dlogits) =>
        ReferenceKernels.SoftmaxCrossEntropyBackward<float>(n, k, S(probs, (long)n * k), labels, S(dlogits, (long)n * k));

    protected override void SgdMomentumUpdateCore(Span<float> w, ReadOnlySpan<float> g, Span<float> v, float lr, float momentum, float weightDecay, bool nesterov) =>
        ReferenceKernels.SgdMomentumUpdate(w, g, v, lr, momentum, weightDecay, nesterov);

    protected override void AdamUpdateCore(Span<float> w, ReadOnlySpan<float> g, Span<float> m, Span<float> v,
                                           float lr, float beta1, float beta2, float epsilon, int step, float weightDecay) =>
        ReferenceKernels.AdamUpdate(w, g, m, v, lr, beta1, beta2, epsilon, step, weightDecay);
}
