namespace FastConv.Exercises;

/// <summary>Exercise 2: max pooling, forward and backward (README.md in this folder).</summary>
public static class MaxPool
{
    /// <summary>x [N, C, H, W]; returns out [N, C, H', W'] with H' = (H − F)/S + 1: the maximum of each F × F window.</summary>
    public static float[,,,] Forward(float[,,,] x, int size, int stride)
    {
        throw new NotImplementedException();
    }

    /// <summary>
    /// dout [N, C, H', W'] is dL/d(out) of <see cref="Forward"/> on x; returns dx [N, C, H, W] = dL/dx: each window's
    /// gradient goes to the input that was its maximum (the first one in row-major order on a tie), and nowhere else.
    /// </summary>
    public static float[,,,] Backward(float[,,,] dout, float[,,,] x, int size, int stride)
    {
        throw new NotImplementedException();
    }
}
