namespace FastConv.Tests.Errors;

/// <summary>
/// One valid call of an op: the tensors it takes (name and shape, in argument order) and how to make the call. From it
/// <see cref="OpCaseTests"/> derives, on every registry backend, the call itself and the bad-argument cases that every op
/// must refuse the same way: each tensor in turn null, disposed, or from another backend's memory, and the wrong
/// shapes listed in <see cref="BadShapes"/>. ggml's test-backend-ops idea: an op declares its case once, every backend
/// runs every check.
/// </summary>
/// <param name="Op">The <see cref="IBackend"/>, <see cref="IConv2dPlan"/> or <see cref="IPool2dPlan"/> method.</param>
/// <param name="Args">The tensors in argument order: the name the op's messages use, the shape of a valid call, and
/// whether null is a valid value (a bias that may be left out).</param>
/// <param name="Call">Makes the call on a backend with those tensors.</param>
/// <param name="BadShapes">Shapes the op must refuse: which argument, its shape, and the argument the message names.</param>
public sealed record OpCase(string Op, (string Name, int[] Shape, bool Optional)[] Args, Action<IBackend, Tensor?[]> Call,
                            (int Arg, int[] Shape, string Names)[] BadShapes)
{
    /// <summary>Fills a valid call's tensors; labels must be class indices.</summary>
    public Func<int, float> Fill { get; init; } = _ => 0.5f;
    public override string ToString() => Op;
}

/// <summary>The case list: one entry per op (or several, where an op has overloads or modes).</summary>
public static class OpCases
{
    private static (string, int[], bool) T(string name, params int[] shape) => (name, shape, false);
    private static (string, int[], bool) Opt(string name, params int[] shape) => (name, shape, true);

    private static readonly Conv2dDesc Conv = new(2, 3, 5, 5, 4, 3, 3, stride: 1, padding: 1);
    private static readonly Pool2dDesc Pool = new(PoolKind.Max, 2, 3, 4, 4, 2, 2, 2, 2, 0, 0);

    public static IReadOnlyList<OpCase> All { get; } =
    [
        new("Gemm", [T("a", 3, 4), T("b", 4, 5), T("c", 3, 5)], (be, t) => be.Gemm(t[0]!, t[1]!, t[2]!),
            [(1, [5, 4], "b"), (2, [3, 4], "c")]),
        new("BiasAddForward", [T("x", 2, 3, 4), T("bias", 3)], (be, t) => be.BiasAddForward(t[0]!, t[1]!),
            [(1, [4], "bias"), (0, [6], "x")]),
        new("BiasAddBackward", [T("dy", 2, 3, 4), T("dbias", 3)], (be, t) => be.BiasAddBackward(t[0]!, t[1]!),
            [(1, [2], "dbias")]),
        new("ReluForward", [T("x", 2, 3), T("y", 2, 3)], (be, t) => be.ReluForward(t[0]!, t[1]!),
            [(1, [3, 2], "y")]),
        new("ReluBackward", [T("x", 2, 3), T("dy", 2, 3), T("dx", 2, 3)], (be, t) => be.ReluBackward(t[0]!, t[1]!, t[2]!),
            [(1, [6], "dy"), (2, [2, 4], "dx")]),
        new("LeakyReluForward", [T("x", 2, 3), T("y", 2, 3)], (be, t) => be.LeakyReluForward(t[0]!, t[1]!, 0.1f),
            [(1, [2, 2], "y")]),
        new("LeakyReluBackward", [T("x", 2, 3), T("dy", 2, 3), T("dx", 2, 3)], (be, t) => be.LeakyReluBackward(t[0]!, t[1]!, t[2]!, 0.1f),
            [(1, [3, 2], "dy")]),
        new("AddForward", [T("a", 2, 3), T("b", 2, 3), T("y", 2, 3)], (be, t) => be.AddForward(t[0]!, t[1]!, t[2]!),
            [(1, [2, 4], "b"), (2, [6], "y")]),
        new("AddForward", [T("a", 2, 3), T("b", 2, 3), T("y", 2, 3)], (be, t) => be.AddForward(t[0]!, t[1]!, t[2]!, -0.5f),
            [(2, [3, 2], "y")]),
        new("ConcatForward", [T("xs[0]", 2, 1, 3), T("xs[1]", 2, 2, 3), T("y", 2, 3, 3)], (be, t) => be.ConcatForward([t[0]!, t[1]!], t[2]!),
            [(1, [2, 2, 4], "xs[1]"), (2, [2, 4, 3], "y")]),
        new("ConcatBackward", [T("dy", 2, 3, 3), T("dxs[0]", 2, 1, 3), T("dxs[1]", 2, 2, 3)], (be, t) => be.ConcatBackward(t[0]!, [t[1]!, t[2]!]),
            [(1, [1, 1, 3], "dxs[0]"), (0, [2, 5, 3], "dy")]),
        new("GlobalAvgPool2dForward", [T("x", 2, 3, 4, 4), T("y", 2, 3)], (be, t) => be.GlobalAvgPool2dForward(t[0]!, t[1]!),
            [(1, [2, 4], "y")]),
        new("GlobalAvgPool2dBackward", [T("dy", 2, 3), T("dx", 2, 3, 4, 4)], (be, t) => be.GlobalAvgPool2dBackward(t[0]!, t[1]!),
            [(0, [2, 4], "dy")]),
        new("BatchNormForwardTraining",
            [T("x", 2, 3, 2, 2), T("gamma", 3), T("beta", 3), T("y", 2, 3, 2, 2), T("saveMean", 3), T("saveInvStd", 3), T("runningMean", 3), T("runningVar", 3)],
            (be, t) => be.BatchNormForwardTraining(t[0]!, t[1]!, t[2]!, t[3]!, t[4]!, t[5]!, t[6]!, t[7]!, 0.1f, 1e-5f),
            [(1, [4], "gamma"), (3, [2, 3, 4], "y"), (7, [2], "runningVar")]),
        new("BatchNormForwardInference",
            [T("x", 2, 3, 2, 2), T("gamma", 3), T("beta", 3), T("runningMean", 3), T("runningVar", 3), T("y", 2, 3, 2, 2)],
            (be, t) => be.BatchNormForwardInference(t[0]!, t[1]!, t[2]!, t[3]!, t[4]!, t[5]!, 1e-5f),
            [(2, [2], "beta"), (5, [2, 3, 2, 3], "y")]),
        new("BatchNormBackward",
            [T("x", 2, 3, 2, 2), T("dy", 2, 3, 2, 2), T("gamma", 3), T("saveMean", 3), T("saveInvStd", 3), T("dx", 2, 3, 2, 2), T("dgamma", 3), T("dbeta", 3)],
            (be, t) => be.BatchNormBackward(t[0]!, t[1]!, t[2]!, t[3]!, t[4]!, t[5]!, t[6]!, t[7]!),
            [(1, [2, 3, 4], "dy"), (6, [1], "dgamma")]),
        new("DropoutForward", [T("x", 2, 3), T("y", 2, 3), T("mask", 2, 3)], (be, t) => be.DropoutForward(t[0]!, t[1]!, t[2]!, 0.5f, 7),
            [(2, [3, 3], "mask")]),
        new("DropoutBackward", [T("dy", 2, 3), T("mask", 2, 3), T("dx", 2, 3)], (be, t) => be.DropoutBackward(t[0]!, t[1]!, t[2]!),
            [(1, [6, 1], "mask")]),
        new("SoftmaxCrossEntropyForward", [T("logits", 2, 3), T("labels", 2), T("probs", 2, 3)],
            (be, t) => be.SoftmaxCrossEntropyForward(t[0]!, t[1]!, t[2]!),
            [(0, [2, 3, 1], "logits"), (1, [3], "labels"), (2, [3, 2], "probs")]) { Fill = _ => 0f },
        new("SoftmaxCrossEntropyBackward", [T("probs", 2, 3), T("labels", 2), T("dlogits", 2, 3)],
            (be, t) => be.SoftmaxCrossEntropyBackward(t[0]!, t[1]!, t[2]!),
            [(0, [6], "probs"), (1, [1], "labels"), (2, [2, 4], "dlogits")]) { Fill = _ => 0f },
        new("SgdMomentumUpdate", [T("weights", 4), T("grad", 4), T("velocity", 4)],
            (be, t) => be.SgdMomentumUpdate(t[0]!, t[1]!, t[2]!, 0.1f, 0.9f, 1e-4f, nesterov: true),
            [(1, [5], "grad"), (2, [2, 2], "velocity")]),
        new("AdamUpdate", [T("weights", 4), T("grad", 4), T("m", 4), T("v", 4)],
            (be, t) => be.AdamUpdate(t[0]!, t[1]!, t[2]!, t[3]!, 1e-3f, 0.9f, 0.999f, 1e-8f, 1),
            [(2, [3], "m"), (3, [4, 1], "v")]),
        new("Conv2dForward", [T("x", 2, 3, 5, 5), T("w", 4, 3, 3, 3), Opt("bias", 4), T("y", 2, 4, 5, 5)],
            (be, t) => { using var p = be.CreateConv2d(Conv); p.Forward(t[0]!, t[1]!, t[2], t[3]!); },
            [(0, [2, 3, 5, 4], "x"), (1, [4, 3, 1, 1], "w"), (2, [3], "bias"), (3, [2, 4, 3, 3], "y")]),
        new("Conv2dBackwardData", [T("dy", 2, 4, 5, 5), T("w", 4, 3, 3, 3), T("dx", 2, 3, 5, 5)],
            (be, t) => { using var p = be.CreateConv2d(Conv); p.BackwardData(t[0]!, t[1]!, t[2]!); },
            [(0, [2, 3, 5, 5], "dy"), (2, [1, 3, 5, 5], "dx")]),
        new("Conv2dBackwardFilter", [T("x", 2, 3, 5, 5), T("dy", 2, 4, 5, 5), T("dw", 4, 3, 3, 3), Opt("dbias", 4)],
            (be, t) => { using var p = be.CreateConv2d(Conv); p.BackwardFilter(t[0]!, t[1]!, t[2]!, t[3]); },
            [(2, [4, 3, 3, 2], "dw"), (3, [5], "dbias")]),
        new("Pool2dForward", [T("x", 2, 3, 4, 4), T("y", 2, 3, 2, 2)],
            (be, t) => { using var p = be.CreatePool2d(Pool); p.Forward(t[0]!, t[1]!); },
            [(0, [2, 3, 4, 5], "x"), (1, [2, 3, 1, 1], "y")]),
        new("Pool2dBackward", [T("x", 2, 3, 4, 4), T("dy", 2, 3, 2, 2), T("dx", 2, 3, 4, 4)],
            (be, t) => { using var p = be.CreatePool2d(Pool); p.Backward(t[0]!, t[1]!, t[2]!); },
            [(1, [2, 3, 2, 3], "dy"), (2, [2, 3, 4], "dx")]),
    ];

    /// <summary>The ops the cases cover, as the completeness test counts them: IBackend's tensor methods by name, and the
    /// plans' methods prefixed with the plan ("Conv2dForward").</summary>
    public static IEnumerable<string> RequiredOps()
    {
        string[] notOps = [nameof(IBackend.Allocate), nameof(IBackend.Supports), nameof(IBackend.CreateConv2d), nameof(IBackend.CreatePool2d)];
        foreach (var m in typeof(IBackend).GetMethods())
            if (!m.IsSpecialName && !notOps.Contains(m.Name)) yield return m.Name;
        foreach (var m in typeof(IConv2dPlan).GetMethods()) if (!m.IsSpecialName) yield return "Conv2d" + m.Name;
        foreach (var m in typeof(IPool2dPlan).GetMethods()) if (!m.IsSpecialName) yield return "Pool2d" + m.Name;
    }
}
