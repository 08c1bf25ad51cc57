using FastConv.Backends.Managed;
using FastConv.Backends.Reference;
using FastConv.Tests.Support;

namespace FastConv.Tests.Core;

/// <summary>The notes' "implementation as matrix multiplication": X_col [363 × 3025], W_row [96 × 363].</summary>
[TestFixture]
public class Im2ColGemmTests
{
    [Test]
    public void AlexNetConv1_AsIm2ColTimesGemm_EqualsConvolution()
    {
        var d = new Conv2dDesc(1, 3, 227, 227, 96, 11, 11, stride: 4, padding: 0);
        Assert.That(d.ReductionLength, Is.EqualTo(363));
        Assert.That(d.OutH * d.OutW, Is.EqualTo(3025));
        var x = TestData.Ints(d.InputElements, 1);
        var w = TestData.Ints(d.WeightElements, 2);

        var cols = new float[363 * 3025];
        ManagedIm2Col.Run(d, 0, x, cols);
        var refCols = new float[363 * 3025];
        ReferenceKernels.Im2Col<float>(d, 0, x, refCols);
        Tolerance.Exact(cols, refCols, "managed im2col vs reference im2col");

        var y = new float[96 * 3025];
        ManagedGemm.Multiply(96, 3025, 363, w, false, cols, false, y);   // W_row · X_col

        var conv = new float[d.OutputElements];
        ReferenceKernels.Conv2dForward<float>(d, x, w, default, conv);
        Tolerance.Exact(y, conv, "W_row · X_col vs direct convolution");
    }

    [Test]
    public void Gemm_EveryIsa_MatchesReference()
    {
        var a = TestData.Ints(37 * 53, 1); var b = TestData.Ints(53 * 71, 2);
        var expected = new float[37 * 71];
        ReferenceKernels.Gemm<float>(37, 71, 53, a, false, b, false, expected, 1f, 0f);
        foreach (var isa in Enum.GetValues<ManagedIsa>())
        {
            if (!ManagedIsaInfo.IsSupported(isa)) continue;
            var c = new float[37 * 71];
            ManagedGemm.Multiply(37, 71, 53, a, false, b, false, c, isa: isa);
            Tolerance.Exact(c, expected, $"gemm {isa}");
        }
    }

    [Test]
    public void ManagedGemm_RejectsShortSpans()
    {
        var ex = Assert.Throws<ArgumentException>(() => ManagedGemm.Multiply(4, 4, 4, new float[15], false, new float[16], false, new float[16]));
        Assert.That(ex!.Message, Does.Contain("a has 15 elements, needs 16"));
    }
}
