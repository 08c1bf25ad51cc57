namespace FastConv;

/// <summary>Element counts in 64 bits, overflow refused, and shape formatting.</summary>
public static class ShapeMath
{
    public static long ElementCount(ReadOnlySpan<int> shape, string what)
    {
        long n = 1;
        for (int i = 0; i < shape.Length; i++)
        {
            if (shape[i] <= 0)
                throw new ArgumentException($"{what}: dimension {i} of shape {Format(shape)} must be >= 1, got {shape[i]}.");
            try { n = checked(n * shape[i]); }
            catch (OverflowException) { throw new ArgumentException($"{what}: shape {Format(shape)} has more elements than a 64-bit count holds."); }
        }
        if (n > Limits.MaxTensorElements)
            throw new ArgumentException($"{what}: shape {Format(shape)} has {n:N0} elements, more than Limits.MaxTensorElements ({Limits.MaxTensorElements:N0}).");
        return n;
    }

    /// <summary>Product of the factors in 64 bits; an overflow becomes an ArgumentException naming <paramref name="what"/>.</summary>
    public static long Product(string what, params long[] factors)
    {
        long n = 1;
        try { foreach (var f in factors) n = checked(n * f); }
        catch (OverflowException) { throw new ArgumentException($"{what} = {string.Join("*", factors)} overflows a 64-bit count."); }
        return n;
    }

    public static string Format(ReadOnlySpan<int> shape) => "[" + string.Join(", ", shape.ToArray()) + "]";
}
