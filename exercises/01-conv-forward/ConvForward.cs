namespace FastConv.Exercises;

/// <summary>Exercise 1: the naive forward pass of a convolutional layer (README.md in this folder).</summary>
public static class ConvForward
{
    /// <summary>
    /// x [N, C, H, W] input, w [K, C, F, F] filters, b [K] biases; returns out [N, K, H', W'] with
    /// H' = (H − F + 2P)/S + 1 and W' = (W − F + 2P)/S + 1, where out[n, k, i, j] = b[k] + the sum over c, r, s of
    /// w[k, c, r, s] · x[n, c, i·S + r − P, j·S + s − P] (zero outside the input).
    /// </summary>
    public static float[,,,] Naive(float[,,,] x, float[,,,] w, float[] b, int stride, int pad)
    {
        throw new NotImplementedException();
    }
}
