namespace FastConv.Exercises;

/// <summary>Exercise 1, solved: the naive forward pass of a convolutional layer.</summary>
public static class ConvForward
{
    public static float[,,,] Naive(float[,,,] x, float[,,,] w, float[] b, int stride, int pad)
    {
        int n = x.GetLength(0), c = x.GetLength(1), h = x.GetLength(2), wd = x.GetLength(3);
        int k = w.GetLength(0), f = w.GetLength(2);
        int oh = (h - f + 2 * pad) / stride + 1, ow = (wd - f + 2 * pad) / stride + 1;
        var y = new float[n, k, oh, ow];
        for (int img = 0; img < n; img++)
            for (int kk = 0; kk < k; kk++)
                for (int i = 0; i < oh; i++)
                    for (int j = 0; j < ow; j++)
                    {
                        float sum = b[kk];
                        for (int ch = 0; ch < c; ch++)
                            for (int r = 0; r < f; r++)
                                for (int s = 0; s < f; s++)
                                {
                                    int yi = i * stride + r - pad, xj = j * stride + s - pad;   // the input pixel under tap (r, s)
                                    if (yi >= 0 && yi < h && xj >= 0 && xj < wd) sum += w[kk, ch, r, s] * x[img, ch, yi, xj];
                                }
                        y[img, kk, i, j] = sum;
                    }
        return y;
    }
}
