using System.Numerics;

namespace FastConv;

/// <summary>
/// An element-wise op declared once: its token (<c>f32-leaky-relu-fwd</c>), from which the verbose-log token
/// (<c>leaky_relu_fwd</c>), the C symbol and the OpenCL kernel name (<c>fc_f32_leaky_relu_fwd</c>) follow; its argument
/// rule; its reference formula; its managed kernel. <see cref="Backend"/> checks and logs it; the reference backend runs
/// the formula, the managed backend the managed kernel, the native backend the C symbol of that name where libfastconv
/// exports it (else the managed kernel), OpenCL the kernel of that name in opencl/f32-eltwise.cl.
/// A forward op maps x to y; a backward op maps x and dy to dx; both take one scalar, alpha. A two-input forward op
/// (add: y = a + alpha·b) has a backward op's arity and kernels, with its own argument names (<see cref="Names"/>).
/// </summary>
public sealed class EltwiseOp(string token, bool backward, Func<double, double, double, double> reference,
                              EltwiseOp.HostKernel managed, Action<float, string> checkAlpha, string[]? names = null)
{
    /// <summary>y (or dx) from x (and dy, empty for a forward op) and alpha, on checked spans of one length.</summary>
    public delegate void HostKernel(ReadOnlySpan<float> x, ReadOnlySpan<float> dy, Span<float> y, float alpha);

    public string Token { get; } = token;
    /// <summary>The op as FASTCONV_VERBOSE names it: the token after "f32-", with underscores.</summary>
    public string LogToken => Token[4..].Replace('-', '_');
    /// <summary>The C function and the OpenCL kernel: "fc_" and the token, with underscores.</summary>
    public string Symbol => "fc_" + Token.Replace('-', '_');
    /// <summary>Takes x and dy and writes dx (else takes x and writes y).</summary>
    public bool Backward { get; } = backward;
    /// <summary>The formula (x, dy, alpha) → out, in double: the oracle, and the float64 backend of the gradient checks.</summary>
    public Func<double, double, double, double> Reference { get; } = reference;
    public HostKernel Managed { get; } = managed;
    /// <summary>The names the argument messages use: first input, second input (null for a one-input op), output.</summary>
    public (string First, string? Second, string Out) Names { get; } =
        names is { Length: 3 } ? (names[0], names[1], names[2]) : backward ? ("x", "dy", "dx") : ("x", null, "y");

    /// <summary>The rule on alpha; throws ArgumentOutOfRangeException naming <c>alpha</c> and <paramref name="op"/>.</summary>
    public void CheckAlpha(float alpha, string op) => checkAlpha(alpha, op);

    public override string ToString() => Token;
}

/// <summary>The element-wise ops declared through <see cref="EltwiseOp"/>. Adding one: a field here, its method in
/// <see cref="IBackend"/> and <see cref="Backend"/>, its C expression (FC_F32_ELTWISE_OPS in native/include/fastconv.h)
/// and its OpenCL kernel (opencl/f32-eltwise.cl); README "Adding an element-wise op".</summary>
public static class EltwiseOps
{
    /// <summary>y = x &gt; 0 ? x : alpha·x (PyTorch's negative_slope), alpha in [0, 1].</summary>
    public static readonly EltwiseOp LeakyReluForward = new("f32-leaky-relu-fwd", backward: false,
        (x, _, a) => x > 0 ? x : a * x,
        (x, _, y, a) =>
        {
            // element by element, so y may be x (in place, as ReLU is used)
            int i = 0;
            if (Vector.IsHardwareAccelerated)
                for (var va = new Vector<float>(a); i + Vector<float>.Count <= x.Length; i += Vector<float>.Count)
                {
                    var vx = new Vector<float>(x[i..]);
                    Vector.ConditionalSelect(Vector.GreaterThan(vx, Vector<float>.Zero), vx, vx * va).CopyTo(y[i..]);
                }
            for (; i < x.Length; i++) y[i] = x[i] > 0f ? x[i] : a * x[i];
        }, Slope);

    /// <summary>dx = x &gt; 0 ? dy : alpha·dy (dx may be dy).</summary>
    public static readonly EltwiseOp LeakyReluBackward = new("f32-leaky-relu-bwd", backward: true,
        (x, dy, a) => x > 0 ? dy : a * dy,
        (x, dy, dx, a) =>
        {
            int i = 0;
            if (Vector.IsHardwareAccelerated)
                for (var va = new Vector<float>(a); i + Vector<float>.Count <= x.Length; i += Vector<float>.Count)
                {
                    var vdy = new Vector<float>(dy[i..]);
                    Vector.ConditionalSelect(Vector.GreaterThan(new Vector<float>(x[i..]), Vector<float>.Zero), vdy, vdy * va).CopyTo(dx[i..]);
                }
            for (; i < x.Length; i++) dx[i] = x[i] > 0f ? dy[i] : a * dy[i];
        }, Slope);

    /// <summary>y = a + alpha·b (the residual join with alpha = 1; y may be a or b). Its backward is the identity: dy
    /// reaches both inputs unchanged, so it has no op of its own.</summary>
    public static readonly EltwiseOp Add = new("f32-add", backward: true,
        (a, b, alpha) => a + alpha * b,
        (a, b, y, alpha) =>
        {
            if (alpha == 1f) System.Numerics.Tensors.TensorPrimitives.Add(a, b, y);
            else System.Numerics.Tensors.TensorPrimitives.MultiplyAdd(b, alpha, a, y);
        },
        (alpha, op) => OpCheck.Finite(alpha, nameof(alpha), op), ["a", "b", "y"]);

    private static void Slope(float alpha, string op)
    {
        if (!(alpha >= 0f && alpha <= 1f))
            throw new ArgumentOutOfRangeException(nameof(alpha), alpha, $"{op}: alpha (the slope for x <= 0) must be in [0, 1], got {alpha}.");
    }
}
