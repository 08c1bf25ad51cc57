namespace FastConv.Exercises;

/// <summary>Exercise 2, solved: max pooling, forward and backward.</summary>
public static class MaxPool
{
    public static float[,,,] Forward(float[,,,] x, int size, int stride)
    {
        int n = x.GetLength(0), c = x.GetLength(1), oh = (x.GetLength(2) - size) / stride + 1, ow = (x.GetLength(3) - size) / stride + 1;
        var y = new float[n, c, oh, ow];
        for (int img = 0; img < n; img++)
            for (int ch = 0; ch < c; ch++)
                for (int i = 0; i < oh; i++)
                    for (int j = 0; j < ow; j++)
                    {
                        var (r, s) = ArgMax(x, img, ch, i * stride, j * stride, size);
                        y[img, ch, i, j] = x[img, ch, r, s];
                    }
        return y;
    }

    public static float[,,,] Backward(float[,,,] dout, float[,,,] x, int size, int stride)
    {
        var dx = new float[x.GetLength(0), x.GetLength(1), x.GetLength(2), x.GetLength(3)];
        for (int img = 0; img < dout.GetLength(0); img++)
            for (int ch = 0; ch < dout.GetLength(1); ch++)
                for (int i = 0; i < dout.GetLength(2); i++)
                    for (int j = 0; j < dout.GetLength(3); j++)
                    {
                        var (r, s) = ArgMax(x, img, ch, i * stride, j * stride, size);
                        dx[img, ch, r, s] += dout[img, ch, i, j];   // += : overlapping windows may share a maximum
                    }
        return dx;
    }

    /// <summary>Row and column of the first maximum of the window whose top-left corner is (top, left).</summary>
    private static (int Row, int Col) ArgMax(float[,,,] x, int img, int ch, int top, int left, int size)
    {
        var best = (Row: top, Col: left);
        for (int r = top; r < top + size; r++)
            for (int s = left; s < left + size; s++)
                if (x[img, ch, r, s] > x[img, ch, best.Row, best.Col]) best = (r, s);
        return best;
    }
}
