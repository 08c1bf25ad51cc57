namespace FastConv;

/// <summary>
/// Every <see cref="IBackend"/> op written once: check → log → the backend's kernel. The argument rules (shapes, scalar
/// ranges: <see cref="OpCheck"/>) run here for every backend, so each refuses bad input with the same message before any
/// kernel or device call; a backend adds only where its tensors must live (<see cref="CheckTensor"/>) and its kernels,
/// which receive tensors already checked and the sizes the rules derived. Host backends derive from
/// <see cref="HostBackend"/>; OpenCL, or a backend in another assembly, derives from this class directly.
/// </summary>
public abstract class Backend : IBackend
{
    public abstract string Name { get; }

    /// <summary>The implementation the verbose log names for the ops without a plan (the backend's name unless it says more,
    /// e.g. the OpenCL device).</summary>
    protected virtual string LogName => Name;

    public abstract Tensor Allocate(ReadOnlySpan<int> shape);

    public virtual bool Supports(in Conv2dDesc desc) => Unsupported(desc) is null;
    public virtual bool Supports(in Pool2dDesc desc) => Unsupported(desc) is null;

    /// <summary>Why this backend cannot run <paramref name="desc"/> (e.g. its kernels' 32-bit indices), or null; the
    /// refusal of CreateConv2d/CreatePool2d gives it.</summary>
    protected virtual string? Unsupported(in Conv2dDesc desc) => null;
    protected virtual string? Unsupported(in Pool2dDesc desc) => null;

    /// <summary>Throws when the backend itself can no longer plan anything (a disposed device); <see cref="CheckTensor"/> says
    /// the same for the ops on tensors.</summary>
    protected virtual void CheckUsable() { }

    /// <summary>Not null, not disposed, and in this backend's memory; the message names <paramref name="name"/> and <paramref name="op"/>.</summary>
    public abstract void CheckTensor(Tensor? t, string name, string op);

    protected void Arg(Tensor? t, string name, ReadOnlySpan<int> shape, string op)
    {
        CheckTensor(t, name, op);
        OpCheck.Shape(t!, name, shape, op);
    }

    protected void Arg(Tensor? t, string name, long length, string op)
    {
        CheckTensor(t, name, op);
        OpCheck.Length(t!, name, length, op);
    }

    public IConv2dPlan CreateConv2d(in Conv2dDesc desc)
    {
        CheckUsable();
        if (!Supports(desc)) throw new NotSupportedException(Unsupported(desc) is { } why ? $"Backend '{Name}': {why}" : $"Backend '{Name}' does not support {desc}.");
        return CreateConv2dCore(desc);
    }

    public IPool2dPlan CreatePool2d(in Pool2dDesc desc)
    {
        CheckUsable();
        if (!Supports(desc)) throw new NotSupportedException(Unsupported(desc) is { } why ? $"Backend '{Name}': {why}" : $"Backend '{Name}' does not support {desc}.");
        return CreatePool2dCore(desc);
    }

    protected abstract IConv2dPlan CreateConv2dCore(in Conv2dDesc desc);
    protected abstract IPool2dPlan CreatePool2dCore(in Pool2dDesc desc);

    /// <summary>A tensor [N, C, rest...] of this backend as (N, C, product of rest).</summary>
    private (int N, int C, int Inner) Channels(Tensor t, string name, string op)
    {
        CheckTensor(t, name, op);
        return OpCheck.Channels(t, name, op);
    }

    /// <summary>FASTCONV_VERBOSE: one line per op, naming this backend and the shape it ran on.</summary>
    private Verbose.Scope Log(string op, Tensor t) => Verbose.Enabled ? Verbose.Op(LogName, op, ShapeMath.Format(t.Shape)) : default;

    public void Gemm(Tensor a, Tensor b, Tensor c, bool transA = false, bool transB = false, float alpha = 1f, float beta = 0f)
    {
        const string op = "Gemm";
        CheckTensor(a, nameof(a), op); CheckTensor(b, nameof(b), op); CheckTensor(c, nameof(c), op);
        var (m, n, k) = OpCheck.Gemm(a, b, c, transA, transB, alpha, beta);
        using var verbose = Verbose.Enabled ? Verbose.Op(LogName, "gemm", $"m{m} n{n} k{k} ta{(transA ? 1 : 0)} tb{(transB ? 1 : 0)}") : default;
        GemmKernel(m, n, k, a, transA, b, transB, c, alpha, beta);
    }

    protected abstract void GemmKernel(int m, int n, int k, Tensor a, bool transA, Tensor b, bool transB, Tensor c, float alpha, float beta);

    public void BiasAddForward(Tensor x, Tensor bias)
    {
        const string op = nameof(BiasAddForward);
        var (n, c, inner) = Channels(x, nameof(x), op);
        Arg(bias, nameof(bias), [c], op);
        using var verbose = Log("bias_add_fwd", x);
        BiasAddForwardKernel(n, c, inner, x, bias);
    }

    public void BiasAddBackward(Tensor dy, Tensor dbias)
    {
        const string op = nameof(BiasAddBackward);
        var (n, c, inner) = Channels(dy, nameof(dy), op);
        Arg(dbias, nameof(dbias), [c], op);
        using var verbose = Log("bias_add_bwd", dy);
        BiasAddBackwardKernel(n, c, inner, dy, dbias);
    }

    /// <summary>x [n, c, inner] += bias [c].</summary>
    protected abstract void BiasAddForwardKernel(int n, int c, int inner, Tensor x, Tensor bias);
    protected abstract void BiasAddBackwardKernel(int n, int c, int inner, Tensor dy, Tensor dbias);

    public void ReluForward(Tensor x, Tensor y)
    {
        CheckTensor(x, nameof(x), nameof(ReluForward));
        Arg(y, nameof(y), x.Shape, nameof(ReluForward));
        using var verbose = Log("relu_fwd", x);
        ReluForwardKernel(x, y);
    }

    public void ReluBackward(Tensor x, Tensor dy, Tensor dx)
    {
        CheckTensor(x, nameof(x), nameof(ReluBackward));
        Arg(dy, nameof(dy), x.Shape, nameof(ReluBackward));
        Arg(dx, nameof(dx), x.Shape, nameof(ReluBackward));
        using var verbose = Log("relu_bwd", x);
        ReluBackwardKernel(x, dy, dx);
    }

    protected abstract void ReluForwardKernel(Tensor x, Tensor y);
    protected abstract void ReluBackwardKernel(Tensor x, Tensor dy, Tensor dx);

    public void LeakyReluForward(Tensor x, Tensor y, float alpha) =>
        Eltwise(EltwiseOps.LeakyReluForward, nameof(LeakyReluForward), x, null, y, alpha);
    public void LeakyReluBackward(Tensor x, Tensor dy, Tensor dx, float alpha) =>
        Eltwise(EltwiseOps.LeakyReluBackward, nameof(LeakyReluBackward), x, dy, dx, alpha);

    public void AddForward(Tensor a, Tensor b, Tensor y) => Eltwise(EltwiseOps.Add, nameof(AddForward), a, b, y, 1f);
    public void AddForward(Tensor a, Tensor b, Tensor y, float alpha) => Eltwise(EltwiseOps.Add, nameof(AddForward), a, b, y, alpha);

    /// <summary>Check → log → kernel of every <see cref="EltwiseOp"/>: y (dx) and dy have x's shape, alpha obeys the op's rule.</summary>
    private void Eltwise(EltwiseOp e, string op, Tensor x, Tensor? dy, Tensor y, float alpha)
    {
        var (first, second, output) = e.Names;
        CheckTensor(x, first, op);
        if (e.Backward) Arg(dy, second!, x.Shape, op);
        Arg(y, output, x.Shape, op);
        e.CheckAlpha(alpha, op);
        using var verbose = Log(e.LogToken, x);
        EltwiseKernel(e, x, e.Backward ? dy : null, y, alpha);
    }

    /// <summary>y = op(x, alpha), or dx = op(x, dy, alpha) for a backward op (dy not null); tensors of one shape.</summary>
    protected abstract void EltwiseKernel(EltwiseOp op, Tensor x, Tensor? dy, Tensor y, float alpha);

    public void ConcatForward(IReadOnlyList<Tensor> xs, Tensor y)
    {
        const string op = nameof(ConcatForward);
        var (n, c, inner) = ConcatShapes(xs, "xs", y, "y", op);
        using var verbose = Log("concat_fwd", y);
        int offset = 0;
        foreach (var x in xs) { ConcatKernel(n, inner, x, x.Dim(1), y, c, offset, toWhole: true); offset += x.Dim(1); }
    }

    public void ConcatBackward(Tensor dy, IReadOnlyList<Tensor> dxs)
    {
        const string op = nameof(ConcatBackward);
        var (n, c, inner) = ConcatShapes(dxs, "dxs", dy, "dy", op);
        using var verbose = Log("concat_bwd", dy);
        int offset = 0;
        foreach (var dx in dxs) { ConcatKernel(n, inner, dx, dx.Dim(1), dy, c, offset, toWhole: false); offset += dx.Dim(1); }
    }

    /// <summary>The parts [N, Ci, rest...] and the whole [N, ΣCi, rest...] of a channel concatenation: every part has the
    /// whole's batch and trailing dimensions, and their channels add up to the whole's.</summary>
    private (int N, int C, int Inner) ConcatShapes(IReadOnlyList<Tensor> parts, string partsName, Tensor whole, string wholeName, string op)
    {
        if (parts is null) throw new ArgumentNullException(partsName, $"{op}: {partsName} is null.");
        if (parts.Count == 0) throw new ArgumentException($"{op}: {partsName} is empty; a concatenation needs at least one tensor.", partsName);
        var (n, c, inner) = Channels(whole, wholeName, op);
        long sum = 0;
        for (int i = 0; i < parts.Count; i++)
        {
            string name = $"{partsName}[{i}]";
            CheckTensor(parts[i], name, op);
            var p = parts[i];
            bool fits = p.Rank == whole.Rank && p.Dim(0) == n;
            for (int d = 2; fits && d < p.Rank; d++) fits = p.Dim(d) == whole.Dim(d);
            if (!fits)
                throw new ArgumentException($"{op}: {name} has shape {ShapeMath.Format(p.Shape)}; it must match {wholeName} {ShapeMath.Format(whole.Shape)} in every dimension but the channels (1).", name);
            sum += p.Dim(1);
        }
        if (sum != c)
            throw new ArgumentException($"{op}: the channels of {partsName} add up to {sum}, {wholeName} {ShapeMath.Format(whole.Shape)} has {c}.", wholeName);
        return (n, c, inner);
    }

    /// <summary>Copies part [n, partChannels, inner] into channels [offset, offset + partChannels) of whole [n, wholeChannels, inner]
    /// (<paramref name="toWhole"/>), or those channels of whole back into part (the backward: a split).</summary>
    protected abstract void ConcatKernel(int n, int inner, Tensor part, int partChannels, Tensor whole, int wholeChannels, int offset, bool toWhole);

    public void GlobalAvgPool2dForward(Tensor x, Tensor y)
    {
        const string op = nameof(GlobalAvgPool2dForward);
        var (n, c, hw) = Channels(x, nameof(x), op);
        Arg(y, nameof(y), n * (long)c, op);
        using var verbose = Log("global_avgpool2d_fwd", x);
        GlobalAvgPool2dForwardKernel(n, c, hw, x, y);
    }

    public void GlobalAvgPool2dBackward(Tensor dy, Tensor dx)
    {
        const string op = nameof(GlobalAvgPool2dBackward);
        var (n, c, hw) = Channels(dx, nameof(dx), op);
        Arg(dy, nameof(dy), n * (long)c, op);
        using var verbose = Log("global_avgpool2d_bwd", dx);
        GlobalAvgPool2dBackwardKernel(n, c, hw, dy, dx);
    }

    /// <summary>y [n·c] = mean of x [n·c, hw].</summary>
    protected abstract void GlobalAvgPool2dForwardKernel(int n, int c, int hw, Tensor x, Tensor y);
    protected abstract void GlobalAvgPool2dBackwardKernel(int n, int c, int hw, Tensor dy, Tensor dx);

    public void BatchNormForwardTraining(Tensor x, Tensor gamma, Tensor beta, Tensor y, Tensor saveMean, Tensor saveInvStd,
                                         Tensor runningMean, Tensor runningVar, float momentum, float epsilon, bool relu = false)
    {
        const string op = nameof(BatchNormForwardTraining);
        var (n, c, hw) = Channels(x, nameof(x), op);
        int[] ch = [c];
        Arg(gamma, nameof(gamma), ch, op); Arg(beta, nameof(beta), ch, op); Arg(y, nameof(y), x.Shape, op);
        Arg(saveMean, nameof(saveMean), ch, op); Arg(saveInvStd, nameof(saveInvStd), ch, op);
        Arg(runningMean, nameof(runningMean), ch, op); Arg(runningVar, nameof(runningVar), ch, op);
        OpCheck.BatchNormTraining(momentum, epsilon, op);
        using var verbose = Log(relu ? "batchnorm_relu_fwd_train" : "batchnorm_fwd_train", x);
        BatchNormForwardTrainingKernel(n, c, hw, x, gamma, beta, y, saveMean, saveInvStd, runningMean, runningVar, momentum, epsilon, relu);
    }

    public void BatchNormForwardInference(Tensor x, Tensor gamma, Tensor beta, Tensor runningMean, Tensor runningVar, Tensor y, float epsilon,
                                          bool relu = false)
    {
        const string op = nameof(BatchNormForwardInference);
        var (n, c, hw) = Channels(x, nameof(x), op);
        int[] ch = [c];
        Arg(gamma, nameof(gamma), ch, op); Arg(beta, nameof(beta), ch, op); Arg(y, nameof(y), x.Shape, op);
        Arg(runningMean, nameof(runningMean), ch, op); Arg(runningVar, nameof(runningVar), ch, op);
        OpCheck.Finite(epsilon, nameof(epsilon), op, positive: true);
        using var verbose = Log(relu ? "batchnorm_relu_fwd_infer" : "batchnorm_fwd_infer", x);
        BatchNormForwardInferenceKernel(n, c, hw, x, gamma, beta, runningMean, runningVar, y, epsilon, relu);
    }

    public void BatchNormBackward(Tensor x, Tensor dy, Tensor gamma, Tensor saveMean, Tensor saveInvStd, Tensor dx, Tensor dgamma, Tensor dbeta,
                                  bool relu = false, Tensor? beta = null)
    {
        const string op = nameof(BatchNormBackward);
        var (n, c, hw) = Channels(x, nameof(x), op);
        int[] ch = [c];
        Arg(dy, nameof(dy), x.Shape, op); Arg(gamma, nameof(gamma), ch, op);
        Arg(saveMean, nameof(saveMean), ch, op); Arg(saveInvStd, nameof(saveInvStd), ch, op);
        Arg(dx, nameof(dx), x.Shape, op); Arg(dgamma, nameof(dgamma), ch, op); Arg(dbeta, nameof(dbeta), ch, op);
        if (relu)
        {
            if (beta is null) throw new ArgumentNullException(nameof(beta), $"{op}: relu needs the forward's beta, to know where its output was 0.");
            Arg(beta, nameof(beta), ch, op);
        }
        using var verbose = Log(relu ? "batchnorm_relu_bwd" : "batchnorm_bwd", x);
        BatchNormBackwardKernel(n, c, hw, x, dy, gamma, saveMean, saveInvStd, dx, dgamma, dbeta, relu ? beta : null);
    }

    protected abstract void BatchNormForwardTrainingKernel(int n, int c, int hw, Tensor x, Tensor gamma, Tensor beta, Tensor y,
        Tensor saveMean, Tensor saveInvStd, Tensor runningMean, Tensor runningVar, float momentum, float epsilon, bool relu);
    protected abstract void BatchNormForwardInferenceKernel(int n, int c, int hw, Tensor x, Tensor gamma, Tensor beta,
        Tensor runningMean, Tensor runningVar, Tensor y, float epsilon, bool relu);
    /// <summary><paramref name="reluBeta"/>: null without the ReLU; with it, the β the forward's mask is recomputed with.</summary>
    protected abstract void BatchNormBackwardKernel(int n, int c, int hw, Tensor x, Tensor dy, Tensor gamma, Tensor saveMean,
        Tensor saveInvStd, Tensor dx, Tensor dgamma, Tensor dbeta, Tensor? reluBeta);

    public void DropoutForward(Tensor x, Tensor y, Tensor mask, float p, ulong seed)
    {
        CheckTensor(x, nameof(x), nameof(DropoutForward));
        Arg(y, nameof(y), x.Shape, nameof(DropoutForward));
        Arg(mask, nameof(mask), x.Shape, nameof(DropoutForward));
        FastConv.Dropout.CheckP(p);
        using var verbose = Log("dropout_fwd", x);
        DropoutForwardKernel(x, y, mask, p, seed);
    }

    public void DropoutBackward(Tensor dy, Tensor mask, Tensor dx)
    {
        CheckTensor(dy, nameof(dy), nameof(DropoutBackward));
        Arg(mask, nameof(mask), dy.Shape, nameof(DropoutBackward));
        Arg(dx, nameof(dx), dy.Shape, nameof(DropoutBackward));
        using var verbose = Log("dropout_bwd", dy);
        DropoutBackwardKernel(dy, mask, dx);
    }

    protected abstract void DropoutForwardKernel(Tensor x, Tensor y, Tensor mask, float p, ulong seed);
    protected abstract void DropoutBackwardKernel(Tensor dy, Tensor mask, Tensor dx);

    public float SoftmaxCrossEntropyForward(Tensor logits, Tensor labels, Tensor probs)
    {
        const string op = nameof(SoftmaxCrossEntropyForward);
        var (n, k) = Logits(logits, nameof(logits), op);
        Arg(probs, nameof(probs), logits.Shape, op);
        Arg(labels, nameof(labels), [n], op);
        using var verbose = Log("softmax_xent_fwd", logits);
        return SoftmaxCrossEntropyForwardKernel(n, k, logits, labels, probs);
    }

    public void SoftmaxCrossEntropyBackward(Tensor probs, Tensor labels, Tensor dlogits)
    {
        const string op = nameof(SoftmaxCrossEntropyBackward);
        var (n, k) = Logits(probs, nameof(probs), op);
        Arg(dlogits, nameof(dlogits), probs.Shape, op);
        Arg(labels, nameof(labels), [n], op);
        using var verbose = Log("softmax_xent_bwd", probs);
        SoftmaxCrossEntropyBackwardKernel(n, k, probs, labels, dlogits);
    }

    /// <summary>A tensor [N, classes] (logits, or the probabilities backward takes in their place), named as the op names it.</summary>
    private (int N, int K) Logits(Tensor t, string name, string op)
    {
        CheckTensor(t, name, op);
        return OpCheck.Logits(t, name, op);
    }

    /// <summary>Labels [n] are class indices stored as floats; the kernel refuses one that is not a whole number in
    /// [0, k) with an ArgumentOutOfRangeException naming it (a host backend before any work, a device after its pass).</summary>
    protected abstract float SoftmaxCrossEntropyForwardKernel(int n, int k, Tensor logits, Tensor labels, Tensor probs);
    protected abstract void SoftmaxCrossEntropyBackwardKernel(int n, int k, Tensor probs, Tensor labels, Tensor dlogits);

    /// <summary>The message of a label outside [0, classes): the same on every backend.</summary>
    protected static ArgumentOutOfRangeException BadLabel(string op, int index, float value, int k) =>
        new("labels", value, $"{op}: label {index} is {value}, expected a class index in [0, {k}).");

    public void SgdMomentumUpdate(Tensor weights, Tensor grad, Tensor velocity, float lr, float momentum, float weightDecay = 0f, bool nesterov = false)
    {
        const string op = nameof(SgdMomentumUpdate);
        CheckTensor(weights, nameof(weights), op);
        Arg(grad, nameof(grad), weights.Shape, op);
        Arg(velocity, nameof(velocity), weights.Shape, op);
        OpCheck.Sgd(lr, momentum, weightDecay, op);
        using var verbose = Log("sgd_update", weights);
        SgdMomentumUpdateKernel(weights, grad, velocity, lr, momentum, weightDecay, nesterov);
    }

    public void AdamUpdate(Tensor weights, Tensor grad, Tensor m, Tensor v, float lr, float beta1, float beta2, float epsilon, int step, float weightDecay = 0f)
    {
        const string op = nameof(AdamUpdate);
        CheckTensor(weights, nameof(weights), op);
        Arg(grad, nameof(grad), weights.Shape, op);
        Arg(m, nameof(m), weights.Shape, op);
        Arg(v, nameof(v), weights.Shape, op);
        OpCheck.Adam(lr, beta1, beta2, epsilon, step, weightDecay, op);
        using var verbose = Log("adam_update", weights);
        AdamUpdateKernel(weights, grad, m, v, lr, beta1, beta2, epsilon, step, weightDecay);
    }

    protected abstract void SgdMomentumUpdateKernel(Tensor weights, Tensor grad, Tensor velocity, float lr, float momentum, float weightDecay, bool nesterov);
    protected abstract void AdamUpdateKernel(Tensor weights, Tensor grad, Tensor m, Tensor v,
                                             float lr, float beta1, float beta2, float epsilon, int step, float weightDecay);

    public override string ToString() => Name;
}
