namespace FastConv.Exercises.Tests;

/// <summary>What the tests compare a learner's answer with: FastConv's reference backend, the naive loops every fast
/// path of FastConv is tested against, called through the same IBackend API the library uses.</summary>
internal static class Reference
{
    public static readonly IBackend Backend = BackendRegistry.Get("reference");

    public static float[,,,] Conv(float[,,,] x, float[,,,] w, float[] b, int stride, int pad, Activation act = Activation.None)
    {
        var d = new Conv2dDesc(x.GetLength(0), x.GetLength(1), x.GetLength(2), x.GetLength(3), w.GetLength(0), w.GetLength(2), w.GetLength(3),
                               stride: stride, padding: pad, activation: act);
        using var plan = Backend.CreateConv2d(d);
        using Tensor tx = Load(x), tw = Load(w), tb = Backend.Allocate(d.BiasShape), ty = Backend.Allocate(d.OutputShape);
        tb.CopyFrom(b);
        plan.Forward(tx, tw, tb, ty);
        return Array4(ty);
    }

    public static float[,,,] MaxPool(float[,,,] x, int size, int stride)
    {
        var d = PoolDesc(x, size, stride);
        using var plan = Backend.CreatePool2d(d);
        using Tensor tx = Load(x), ty = Backend.Allocate(d.OutputShape);
        plan.Forward(tx, ty);
        return Array4(ty);
    }

    public static float[,,,] MaxPoolBackward(float[,,,] dout, float[,,,] x, int size, int stride)
    {
        var d = PoolDesc(x, size, stride);
        using var plan = Backend.CreatePool2d(d);
        using Tensor tx = Load(x), tdy = Load(dout), tdx = Backend.Allocate(d.InputShape);
        plan.Backward(tx, tdy, tdx);
        return Array4(tdx);
    }

    private static Pool2dDesc PoolDesc(float[,,,] x, int size, int stride) =>
        new(PoolKind.Max, x.GetLength(0), x.GetLength(1), x.GetLength(2), x.GetLength(3), size, stride);

    public static Tensor Load(float[,,,] a)
    {
        var t = Backend.Allocate(Shape(a));
        var flat = new float[a.Length];
        Buffer.BlockCopy(a, 0, flat, 0, flat.Length * sizeof(float));
        t.CopyFrom(flat);
        return t;
    }

    public static float[,,,] Array4(Tensor t)
    {
        var a = new float[t.Dim(0), t.Dim(1), t.Dim(2), t.Dim(3)];
        var flat = t.ToArray();
        Buffer.BlockCopy(flat, 0, a, 0, flat.Length * sizeof(float));
        return a;
    }

    public static int[] Shape(Array a) => Enumerable.Range(0, a.Rank).Select(a.GetLength).ToArray();

    /// <summary>Small integers in [−3, 3]: every sum of products is exact in float, so answers must match exactly.</summary>
    public static float[,,,] Integers(Random rng, int n, int c, int h, int w)
    {
        var a = new float[n, c, h, w];
        for (int i = 0; i < n; i++) for (int j = 0; j < c; j++) for (int k = 0; k < h; k++) for (int l = 0; l < w; l++) a[i, j, k, l] = rng.Next(-3, 4);
        return a;
    }

    /// <summary>Distinct values (a shuffled 0, 1, 2, … scaled), so every pooling window has one maximum.</summary>
    public static float[,,,] Distinct(Random rng, int n, int c, int h, int w)
    {
        var order = Enumerable.Range(0, n * c * h * w).OrderBy(_ => rng.Next()).ToArray();
        var a = new float[n, c, h, w];
        Buffer.BlockCopy(order.Select(v => v * 0.25f - 10).ToArray(), 0, a, 0, order.Length * sizeof(float));
        return a;
    }
}

/// <summary>Assertions that say what is wrong in the learner's terms.</summary>
internal static class Expect
{
    /// <summary>Runs the learner's code; a NotImplementedException becomes "not written yet" with the file to fill in.</summary>
    public static T Call<T>(string what, string file, Func<T> code)
    {
        try { return code(); }
        catch (NotImplementedException) { Assert.Fail($"{what} is not written yet: fill it in in exercises/{file}."); throw; }
    }

    public static void Call(string what, string file, Action code) => Call(what, file, () => { code(); return 0; });

    /// <summary>Equal shapes and values; on a difference the message names the shape or the first element that differs, and the hint.</summary>
    public static void Same(float[,,,] got, float[,,,] expected, string what, string shapeHint, string valueHint)
    {
        int[] gs = Reference.Shape(got), es = Reference.Shape(expected);
        if (!gs.SequenceEqual(es))
            Assert.Fail($"{what} shape [{string.Join(", ", gs)}], expected [{string.Join(", ", es)}]: {shapeHint}");
        int wrong = 0;
        string? first = null;
        for (int i = 0; i < es[0]; i++) for (int j = 0; j < es[1]; j++) for (int k = 0; k < es[2]; k++) for (int l = 0; l < es[3]; l++)
            if (got[i, j, k, l] != expected[i, j, k, l])
            {
                wrong++;
                first ??= $"{what}[{i}, {j}, {k}, {l}] = {got[i, j, k, l]}, expected {expected[i, j, k, l]}";
            }
        if (wrong > 0) Assert.Fail($"{first} ({wrong} of {got.Length} values differ): {valueHint}");
    }
}
