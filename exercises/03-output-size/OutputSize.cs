namespace FastConv.Exercises;

/// <summary>Exercise 3: the spatial size of a conv or pool layer's output (README.md in this folder).</summary>
public static class OutputSize
{
    /// <summary>How many positions a filter of size <paramref name="filter"/> takes along an input of size
    /// <paramref name="input"/> with the given stride and zero padding (rounded down when it does not fit evenly).
    /// Throws an ArgumentException when the filter does not fit at all.</summary>
    public static int Of(int input, int filter, int stride, int pad)
    {
        throw new NotImplementedException();
    }

    /// <summary>Whether the hyper-parameters tile the input exactly: the notes call the others invalid.</summary>
    public static bool TilesEvenly(int input, int filter, int stride, int pad)
    {
        throw new NotImplementedException();
    }

    /// <summary>The zero padding that keeps the size at stride 1 ("same" convolution) for an odd filter.</summary>
    public static int SamePadding(int filter)
    {
        throw new NotImplementedException();
    }
}
