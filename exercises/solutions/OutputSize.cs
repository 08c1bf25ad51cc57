namespace FastConv.Exercises;

/// <summary>Exercise 3, solved: (W − F + 2P)/S + 1.</summary>
public static class OutputSize
{
    public static int Of(int input, int filter, int stride, int pad)
    {
        int room = input - filter + 2 * pad;
        if (room < 0) throw new ArgumentException($"filter {filter} does not fit input {input} with padding {pad}: W - F + 2P = {room} < 0");
        return room / stride + 1;
    }

    public static bool TilesEvenly(int input, int filter, int stride, int pad) => (input - filter + 2 * pad) % stride == 0;

    public static int SamePadding(int filter) => (filter - 1) / 2;
}
