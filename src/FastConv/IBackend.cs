namespace FastConv;

/// <summary>
/// The closed set of ops a backend runs: enough to train a CS231n-style CNN without leaving the device.
/// Argument order everywhere: descriptor, inputs, outputs, workspace. Shapes are checked before any work.
/// </summary>
public interface IBackend
{
    /// <summary>"reference", "managed", "native", "opencl", or a variant such as "managed:v256".</summary>
    string Name { get; }

    Tensor Allocate(ReadOnlySpan<int> shape);

    bool Supports(in Conv2dDesc desc);
    bool Supports(in Pool2dDesc desc);

    /// <summary>Validates and plans a convolution once; the plan runs on any tensors of the descriptor's shapes.</summary>
    IConv2dPlan CreateConv2d(in Conv2dDesc desc);
    IPool2dPlan CreatePool2d(in Pool2dDesc desc);

    /// <summary>c [M, N] = alpha · op(a) · op(b) + beta · c, row-major; op transposes when asked.</summary>
    void Gemm(Tensor a, Tensor b, Tensor c, bool transA = false, bool transB = false, float alpha = 1f, float beta = 0f);

    /// <summary>x [N, C, ...] += bias [C] per channel, in place.</summary>
    void BiasAddForward(Tensor x, Tensor bias);
    /// <summary>dbias [C] = Σ over N and spatial positions of dy [N, C, ...].</summary>
    void BiasAddBackward(Tensor dy, Tensor dbias);

    void ReluForward(Tensor x, Tensor y);
    /// <summary>dx = dy where x &gt; 0, else 0. Passing y = relu(x) for x gives the same result.</summary>
    void ReluBackward(Tensor x, Tensor dy, Tensor dx);

    /// <summary>y = x &gt; 0 ? x : alpha·x, with alpha (PyTorch's negative_slope) in [0, 1].</summary>
    void LeakyReluForward(Tensor x, Tensor y, float alpha);
    /// <summary>dx = x &gt; 0 ? dy : alpha·dy.</summary>
    void LeakyReluBackward(Tensor x, Tensor dy, Tensor dx, float alpha);

    /// <summary>y = a + b, element by element (the residual join); y may be a or b. Its backward is the identity:
    /// dL/da = dL/db = dL/dy, so the gradient is passed to both branches and there is no AddBackward.</summary>
    void AddForward(Tensor a, Tensor b, Tensor y);
    /// <summary>y = a + alpha·b.</summary>
    void AddForward(Tensor a, Tensor b, Tensor y, float alpha);

    /// <summary>y [N, ΣCi, ...] = the inputs xs[i] [N, Ci, ...] side by side along the channel axis (1), in order
    /// (GoogLeNet's filter concatenation; ONNX Concat with axis 1).</summary>
    void ConcatForward(IReadOnlyList<Tensor> xs, Tensor y);
    /// <summary>The backward of <see cref="ConcatForward"/>: dy [N, ΣCi, ...] split along the channels into dxs[i] [N, Ci, ...]
    /// (ONNX Split with axis 1).</summary>
    void ConcatBackward(Tensor dy, IReadOnlyList<Tensor> dxs);

    /// <summary>y [N, C] = mean over H·W of x [N, C, H, W].</summary>
    void GlobalAvgPool2dForward(Tensor x, Tensor y);
    void GlobalAvgPool2dBackward(Tensor dy, Tensor dx);

    /// <summary>Spatial batch norm in training mode: batch statistics per channel, saved for backward;
    /// running statistics updated as PyTorch does (unbiased variance, <paramref name="momentum"/> weight on the new value).
    /// <paramref name="relu"/>: y = max(0, ·) of the normalised output, exactly what <see cref="ReluForward"/> gives on it
    /// (a conv – bn – relu chain's batch norm and ReLU in one pass).</summary>
    void BatchNormForwardTraining(Tensor x, Tensor gamma, Tensor beta, Tensor y, Tensor saveMean, Tensor saveInvStd,
                                  Tensor runningMean, Tensor runningVar, float momentum, float epsilon, bool relu = false);
    void BatchNormForwardInference(Tensor x, Tensor gamma, Tensor beta, Tensor runningMean, Tensor runningVar, Tensor y, float epsilon,
                                   bool relu = false);
    /// <summary>dx, dγ, dβ from dy. <paramref name="relu"/>: the training forward applied max(0, ·) with this
    /// <paramref name="beta"/>; dy is the gradient of that output, masked where the normalised value was not positive
    /// (the elements <see cref="ReluBackward"/> on the forward's output would zero), recomputed from x.</summary>
    void BatchNormBackward(Tensor x, Tensor dy, Tensor gamma, Tensor saveMean, Tensor saveInvStd, Tensor dx, Tensor dgamma, Tensor dbeta,
                           bool relu = false, Tensor? beta = null);

    /// <summary>Inverted dropout: mask[i] = 1/(1−p) when <see cref="Dropout.Keep"/>(seed, i, p), else 0; y = x·mask.</summary>
    void DropoutForward(Tensor x, Tensor y, Tensor mask, float p, ulong seed);
    void DropoutBackward(Tensor dy, Tensor mask, Tensor dx);

    /// <summary>probs = softmax(logits [N, K]); returns the mean of −log probs[n, labels[n]].
    /// Labels are class indices stored as floats in a tensor [N].</summary>
    float SoftmaxCrossEntropyForward(Tensor logits, Tensor labels, Tensor probs);
    /// <summary>dlogits = (probs − onehot(labels)) / N.</summary>
    void SoftmaxCrossEntropyBackward(Tensor probs, Tensor labels, Tensor dlogits);

    /// <summary>PyTorch's SGD: g' = g + wd·w; v = μ·v + g'; w −= lr·(nesterov ? g' + μ·v : v).</summary>
    void SgdMomentumUpdate(Tensor weights, Tensor grad, Tensor velocity, float lr, float momentum, float weightDecay = 0f, bool nesterov = false);
    /// <summary>Adam with bias correction at 1-based <paramref name="step"/>; L2 weight decay added to the gradient.</summary>
    void AdamUpdate(Tensor weights, Tensor grad, Tensor m, Tensor v, float lr, float beta1, float beta2, float epsilon, int step, float weightDecay = 0f);
}

/// <summary>A planned convolution. <see cref="Implementation"/> names what runs, e.g. "managed:v512:im2col-gemm-8x32".</summary>
public interface IConv2dPlan : IDisposable
{
    Conv2dDesc Desc { get; }
    string Implementation { get; }
    /// <summary>y = act(conv(x, w) + bias). Bias may be null.</summary>
    void Forward(Tensor x, Tensor w, Tensor? bias, Tensor y);
    /// <summary>dx = conv_transpose(dy, w).</summary>
    void BackwardData(Tensor dy, Tensor w, Tensor dx);
    /// <summary>dw = Σ_n dy ⋆ x; dbias = Σ dy over N, OH, OW (may be null).</summary>
    void BackwardFilter(Tensor x, Tensor dy, Tensor dw, Tensor? dbias);
}

public interface IPool2dPlan : IDisposable
{
    Pool2dDesc Desc { get; }
    string Implementation { get; }
    void Forward(Tensor x, Tensor y);
    /// <summary>dx from dy; max pooling finds each window's first maximum in x again, so it needs no saved indices.</summary>
    void Backward(Tensor x, Tensor dy, Tensor dx);
}
