// The package smoke test's console app (.ci/package-smoke): FastConv.Native from the local feed, one convolution on
// the native backend, checked against the reference backend that the FastConv package brings.
using FastConv;
using FastConv.Native;

NativeBackend.Register();
IBackend native = BackendRegistry.Get("native"), reference = BackendRegistry.Get("reference");
var desc = new Conv2dDesc(n: 2, c: 3, h: 16, w: 16, k: 8, r: 3, s: 3, stride: 1, padding: 1);
var rng = new Random(1);
float[] x = new float[2 * 3 * 16 * 16], w = new float[8 * 3 * 3 * 3];
for (int i = 0; i < x.Length; i++) x[i] = rng.Next(-3, 4);
for (int i = 0; i < w.Length; i++) w[i] = rng.Next(-3, 4);

float[] Run(IBackend be, out string implementation)
{
    using var plan = be.CreateConv2d(desc);
    using Tensor tx = be.Allocate([2, 3, 16, 16]), tw = be.Allocate([8, 3, 3, 3]), ty = be.Allocate([2, 8, 16, 16]);
    tx.CopyFrom(x); tw.CopyFrom(w);
    plan.Forward(tx, tw, null, ty);
    implementation = plan.Implementation;
    return ty.ToArray();
}

float[] got = Run(native, out string impl), want = Run(reference, out _);
int wrong = got.Zip(want).Count(p => p.First != p.Second); // small integers: every backend is exact
Console.WriteLine($"{impl}: {desc} -> {got.Length} outputs, {wrong} differ from the reference");
return wrong == 0 && impl.StartsWith("native:", StringComparison.Ordinal) ? 0 : 1;
