namespace FastConv.Fuzz;

/// <summary>
/// The IBackend ops other than the plans, as specs the API fuzzer draws: the tensors each op takes (name, shape, how it is
/// filled, whether it is an output), its scalar arguments with the documented rule on each (<see cref="OpCheck"/>,
/// <see cref="Dropout.CheckP"/>, the leaky-ReLU slope), and how closely a result must match the reference: exact for ops
/// that only move, select or compare, else within 2·Ops·ε·Scale·max(1, max |value|) (<see cref="ApiFuzzer.Compare"/>).
/// </summary>
public static class Ops
{
    /// <summary>A tensor argument. <paramref name="LengthOnly"/>: any shape of this many elements is valid; <paramref name="Free"/>:
    /// the op takes its sizes from this tensor, so another shape may be just as valid (it is only ever misused otherwise).</summary>
    public sealed record Slot(string Name, int[] Shape, Func<Random, float[]> Fill, bool Output = false, bool LengthOnly = false, bool Free = false);

    public sealed record Scalar(string Name, double Value, Func<double, bool> Valid);

    public sealed record Spec(string Name, Slot[] Slots, Scalar[] Scalars, Func<IBackend, Tensor?[], float?> Invoke,
                              bool Exact, long Ops = 1, double Scale = 1, bool BadLabel = false, string? ListMisuse = null, string? ListName = null)
    {
        public override string ToString() => $"{Name} {string.Join(" ", Slots.Select(s => s.Name + Values.Format(s.Shape)))}" +
                                             string.Concat(Scalars.Select(s => $" {s.Name}={s.Value:R}")) + (BadLabel ? " bad-label" : "") +
                                             (ListMisuse is null ? "" : $" {ListMisuse}");
    }

    private static long Count(int[] s) => s.Aggregate(1L, (a, v) => a * v);
    private static Func<Random, float[]> U(int[] s, float lo = -2, float hi = 2) => r => Values.Uniform(r, Count(s), lo, hi);

    private static bool Finite(double v) => double.IsFinite(v);
    private static bool Positive(double v) => double.IsFinite(v) && v > 0;
    private static bool Unit(double v) => v >= 0 && v <= 1;
    private static bool UnitOpen(double v) => v >= 0 && v < 1;
    private static bool Decay(double v) => double.IsFinite(v) && v >= 0;

    private static float S(Random r, Func<Random, float> typical) => Values.Scalar(r, typical, 12);

    /// <summary>[N, C, rest...] with rank 2 to 4 and small sizes.</summary>
    private static int[] Nc(Random r, out int n, out int c, out int inner)
    {
        n = r.Next(1, 4); c = r.Next(1, 5);
        var s = new List<int> { n, c };
        for (int i = r.Next(0, 3); i > 0; i--) s.Add(r.Next(1, 6));
        inner = s.Skip(2).Aggregate(1, (a, v) => a * v);
        return [.. s];
    }

    private static int[] Any(Random r) => Enumerable.Range(0, r.Next(1, 5)).Select(_ => r.Next(1, 6)).ToArray();

    public static Spec Draw(Random r)
    {
        switch (r.Next(20))
        {
            case 0:
            {
                int m = r.Next(1, 7), n = r.Next(1, 7), k = r.Next(1, 9);
                bool ta = r.Next(2) == 0, tb = r.Next(2) == 0;
                int[] a = ta ? [k, m] : [m, k], b = tb ? [n, k] : [k, n], c = [m, n];
                float alpha = S(r, q => q.Next(3) == 0 ? 1f : (float)(q.NextDouble() * 4 - 2)), beta = S(r, q => q.Next(2) == 0 ? 0f : (float)(q.NextDouble() * 2 - 1));
                double scale = Math.Max(1, Math.Abs(alpha)) * 4 * k + Math.Abs(beta) * 2;
                return new Spec($"Gemm ta={ta} tb={tb}", [new("a", a, U(a)), new("b", b, U(b)), new("c", c, U(c), Output: true)],
                    [new("alpha", alpha, Finite), new("beta", beta, Finite)],
                    (be, t) => { be.Gemm(t[0]!, t[1]!, t[2]!, ta, tb, alpha, beta); return null; }, Exact: false, Ops: k + 2, Scale: scale / 2);
            }
            case 1:
            {
                var x = Nc(r, out _, out int c, out _);
                return new Spec("BiasAddForward", [new("x", x, U(x), Output: true, Free: true), new("bias", [c], U([c]))], [],
                    (be, t) => { be.BiasAddForward(t[0]!, t[1]!); return null; }, Exact: false, Ops: 2);
            }
            case 2:
            {
                var dy = Nc(r, out int n, out int c, out int inner);
                return new Spec("BiasAddBackward", [new("dy", dy, U(dy), Free: true), new("dbias", [c], U([c]), Output: true)], [],
                    (be, t) => { be.BiasAddBackward(t[0]!, t[1]!); return null; }, Exact: false, Ops: (long)n * inner + 1);
            }
            case 3:
            {
                var s = Any(r);
                return new Spec("ReluForward", [new("x", s, U(s)), new("y", s, U(s), Output: true)], [],
                    (be, t) => { be.ReluForward(t[0]!, t[1]!); return null; }, Exact: true);
            }
            case 4:
            {
                var s = Any(r);
                return new Spec("ReluBackward", [new("x", s, U(s)), new("dy", s, U(s)), new("dx", s, U(s), Output: true)], [],
                    (be, t) => { be.ReluBackward(t[0]!, t[1]!, t[2]!); return null; }, Exact: true);
            }
            case 5:
            {
                var s = Any(r);
                float alpha = S(r, q => (float)q.NextDouble());
                bool backward = r.Next(2) == 0;
                return backward
                    ? new Spec("LeakyReluBackward", [new("x", s, U(s)), new("dy", s, U(s)), new("dx", s, U(s), Output: true)], [new("alpha", alpha, Unit)],
                        (be, t) => { be.LeakyReluBackward(t[0]!, t[1]!, t[2]!, alpha); return null; }, Exact: false, Ops: 1)
                    : new Spec("LeakyReluForward", [new("x", s, U(s)), new("y", s, U(s), Output: true)], [new("alpha", alpha, Unit)],
                        (be, t) => { be.LeakyReluForward(t[0]!, t[1]!, alpha); return null; }, Exact: false, Ops: 1);
            }
            case 6:
            {
                var s = Any(r);
                bool withAlpha = r.Next(2) == 0;
                float alpha = withAlpha ? S(r, q => (float)(q.NextDouble() * 4 - 2)) : 1f;
                return new Spec(withAlpha ? "AddForward(alpha)" : "AddForward", [new("a", s, U(s)), new("b", s, U(s)), new("y", s, U(s), Output: true)],
                    withAlpha ? [new("alpha", alpha, Finite)] : [],
                    (be, t) => { if (withAlpha) be.AddForward(t[0]!, t[1]!, t[2]!, alpha); else be.AddForward(t[0]!, t[1]!, t[2]!); return null; },
                    Exact: false, Ops: 2, Scale: Math.Max(1, Math.Abs(alpha)));
            }
            case 7:
            case 8:
            {
                bool forward = r.Next(2) == 0;
                int parts = r.Next(1, 4), n = r.Next(1, 3);
                var rest = Enumerable.Range(0, r.Next(0, 3)).Select(_ => r.Next(1, 4)).ToArray();
                var cs = Enumerable.Range(0, parts).Select(_ => r.Next(1, 4)).ToArray();
                int[] Sh(int c) => [n, c, .. rest];
                var whole = Sh(cs.Sum());
                string list = forward ? "xs" : "dxs", one = forward ? "y" : "dy";
                string? misuse = r.Next(100) < 5 ? (r.Next(2) == 0 ? $"{list}: null" : $"{list}: empty") : null;
                var slots = cs.Select((c, i) => new Slot($"{list}[{i}]", Sh(c), U(Sh(c)), Output: !forward))
                    .Append(new Slot(one, whole, U(whole), Output: forward)).ToArray();
                return new Spec(forward ? "ConcatForward" : "ConcatBackward", slots, [],
                    (be, t) =>
                    {
                        IReadOnlyList<Tensor>? xs = misuse is null ? t[..parts].Select(x => x!).ToList() : misuse.EndsWith("null") ? null : [];
                        if (forward) be.ConcatForward(xs!, t[parts]!); else be.ConcatBackward(t[parts]!, xs!);
                        return null;
                    }, Exact: true, ListMisuse: misuse, ListName: list);
            }
            case 9:
            {
                var x = Nc(r, out int n, out int c, out int inner);
                int[] y = r.Next(2) == 0 ? [n, c] : [n * c];
                return r.Next(2) == 0
                    ? new Spec("GlobalAvgPool2dForward", [new("x", x, U(x), Free: true), new("y", y, U(y), Output: true, LengthOnly: true)], [],
                        (be, t) => { be.GlobalAvgPool2dForward(t[0]!, t[1]!); return null; }, Exact: false, Ops: inner + 2)
                    : new Spec("GlobalAvgPool2dBackward", [new("dy", y, U(y), LengthOnly: true), new("dx", x, U(x), Output: true, Free: true)], [],
                        (be, t) => { be.GlobalAvgPool2dBackward(t[0]!, t[1]!); return null; }, Exact: false, Ops: 4);
            }
            case 10:
            case 11:
            {
                var x = Nc(r, out int n, out int c, out int inner);
                int[] ch = [c];
                float momentum = S(r, q => (float)q.NextDouble()), eps = S(r, q => q.Next(2) == 0 ? 1e-5f : (float)(1e-4 + q.NextDouble() * 1e-2));
                long m = (long)n * inner;
                return new Spec("BatchNormForwardTraining",
                    [new("x", x, U(x)), new("gamma", ch, U(ch)), new("beta", ch, U(ch)), new("y", x, U(x), Output: true),
                     new("saveMean", ch, U(ch), Output: true), new("saveInvStd", ch, U(ch), Output: true),
                     new("runningMean", ch, U(ch), Output: true), new("runningVar", ch, U(ch, 0.1f, 2f), Output: true)],
                    [new("momentum", momentum, Unit), new("epsilon", eps, Positive)],
                    (be, t) => { be.BatchNormForwardTraining(t[0]!, t[1]!, t[2]!, t[3]!, t[4]!, t[5]!, t[6]!, t[7]!, momentum, eps); return null; },
                    // invstd of a small batch can reach 1/sqrt(eps): the bound scales with it
                    Exact: false, Ops: m + 20, Scale: 1 / Math.Sqrt(Math.Max(eps, 1e-5f)));
            }
            case 12:
            {
                var x = Nc(r, out _, out int c, out _);
                int[] ch = [c];
                float eps = S(r, q => 1e-5f);
                return new Spec("BatchNormForwardInference",
                    [new("x", x, U(x)), new("gamma", ch, U(ch)), new("beta", ch, U(ch)), new("runningMean", ch, U(ch)),
                     new("runningVar", ch, U(ch, 0.1f, 2f)), new("y", x, U(x), Output: true)],
                    [new("epsilon", eps, Positive)],
                    (be, t) => { be.BatchNormForwardInference(t[0]!, t[1]!, t[2]!, t[3]!, t[4]!, t[5]!, eps); return null; }, Exact: false, Ops: 16, Scale: 4);
            }
            case 13:
            {
                var x = Nc(r, out int n, out int c, out int inner);
                int[] ch = [c];
                return new Spec("BatchNormBackward",
                    [new("x", x, U(x)), new("dy", x, U(x)), new("gamma", ch, U(ch)), new("saveMean", ch, U(ch)),
                     new("saveInvStd", ch, U(ch, 0.1f, 2f)), new("dx", x, U(x), Output: true), new("dgamma", ch, U(ch), Output: true), new("dbeta", ch, U(ch), Output: true)],
                    [], (be, t) => { be.BatchNormBackward(t[0]!, t[1]!, t[2]!, t[3]!, t[4]!, t[5]!, t[6]!, t[7]!); return null; },
                    Exact: false, Ops: (long)n * inner + 20, Scale: 16);
            }
            case 14:
            {
                var s = Any(r);
                float p = S(r, q => (float)(q.NextDouble() * 0.9));
                ulong seed = (ulong)r.NextInt64();
                return r.Next(2) == 0
                    ? new Spec("DropoutForward", [new("x", s, U(s)), new("y", s, U(s), Output: true), new("mask", s, U(s), Output: true)], [new("p", p, UnitOpen)],
                        (be, t) => { be.DropoutForward(t[0]!, t[1]!, t[2]!, p, seed); return null; }, Exact: false, Ops: 2, Scale: 1 / (1 - Math.Min(0.999, Math.Abs(p))))
                    : new Spec("DropoutBackward", [new("dy", s, U(s)), new("mask", s, U(s, 0, 3)), new("dx", s, U(s), Output: true)], [],
                        (be, t) => { be.DropoutBackward(t[0]!, t[1]!, t[2]!); return null; }, Exact: false, Ops: 1, Scale: 3);
            }
            case 15:
            case 16:
            {
                int n = r.Next(1, 5), k = r.Next(1, 8);
                bool badLabel = r.Next(100) < 10;
                float[] bads = [-1f, k, 0.5f, float.NaN, 1e9f, float.PositiveInfinity, -0.25f];
                Func<Random, float[]> labels = q =>
                {
                    var l = Enumerable.Range(0, n).Select(_ => (float)q.Next(k)).ToArray();
                    if (badLabel) l[q.Next(n)] = bads[q.Next(bads.Length)];
                    return l;
                };
                int[] lk = [n, k];
                return r.Next(2) == 0
                    ? new Spec("SoftmaxCrossEntropyForward", [new("logits", lk, U(lk, -4, 4)), new("labels", [n], labels), new("probs", lk, U(lk), Output: true)], [],
                        (be, t) => be.SoftmaxCrossEntropyForward(t[0]!, t[1]!, t[2]!), Exact: false, Ops: k + 40, Scale: 4, BadLabel: badLabel)
                    : new Spec("SoftmaxCrossEntropyBackward", [new("probs", lk, U(lk, 0, 1)), new("labels", [n], labels), new("dlogits", lk, U(lk), Output: true)], [],
                        (be, t) => { be.SoftmaxCrossEntropyBackward(t[0]!, t[1]!, t[2]!); return null; }, Exact: false, Ops: 4, BadLabel: badLabel);
            }
            case 17:
            {
                var s = Any(r);
                float lr = S(r, q => (float)(1e-3 + q.NextDouble() * 0.5)), mom = S(r, q => (float)(q.NextDouble() * 0.99)),
                      wd = S(r, q => q.Next(2) == 0 ? 0f : (float)(q.NextDouble() * 1e-2));
                bool nesterov = r.Next(2) == 0;
                return new Spec($"SgdMomentumUpdate nesterov={nesterov}",
                    [new("weights", s, U(s), Output: true), new("grad", s, U(s)), new("velocity", s, U(s), Output: true)],
                    [new("lr", lr, Positive), new("momentum", mom, UnitOpen), new("weightDecay", wd, Decay)],
                    (be, t) => { be.SgdMomentumUpdate(t[0]!, t[1]!, t[2]!, lr, mom, wd, nesterov); return null; }, Exact: false, Ops: 8, Scale: 4);
            }
            default:
            {
                var s = Any(r);
                float lr = S(r, q => (float)(1e-4 + q.NextDouble() * 1e-2)), b1 = S(r, q => (float)(q.NextDouble() * 0.99)),
                      b2 = S(r, q => (float)(0.9 + q.NextDouble() * 0.0999)), eps = S(r, q => 1e-8f), wd = S(r, q => q.Next(2) == 0 ? 0f : 1e-4f);
                int step = r.Next(100) < 90 ? r.Next(1, 1000) : new[] { 0, -1, int.MinValue, int.MaxValue }[r.Next(4)];
                // bias correction divides by 1 − β^t: its rounding is amplified by 1/(1 − β^t)
                double amp = 1 / Math.Max(1e-3, 1 - Math.Pow(Math.Clamp(b1, 0, 0.999), Math.Max(step, 1))) +
                             1 / Math.Max(1e-3, 1 - Math.Pow(Math.Clamp(b2, 0, 0.999), Math.Max(step, 1)));
                return new Spec("AdamUpdate",
                    [new("weights", s, U(s), Output: true), new("grad", s, U(s)), new("m", s, U(s), Output: true), new("v", s, U(s, 0.01f, 2f), Output: true)],
                    [new("lr", lr, Positive), new("beta1", b1, UnitOpen), new("beta2", b2, UnitOpen), new("epsilon", eps, Positive),
                     new("step", step, v => v >= 1), new("weightDecay", wd, Decay)],
                    (be, t) => { be.AdamUpdate(t[0]!, t[1]!, t[2]!, t[3]!, lr, b1, b2, eps, step, wd); return null; },
                    Exact: false, Ops: 32 + (long)(8 * amp), Scale: 4);
            }
        }
    }

}
