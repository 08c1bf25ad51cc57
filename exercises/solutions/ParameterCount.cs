namespace FastConv.Exercises;

/// <summary>Exercise 4, solved: parameter counts.</summary>
public static class ParameterCount
{
    public static long Conv(int depth, int filters, int filter) => (long)filters * filter * filter * depth + filters;

    public static long ConvWithoutSharing(int outW, int outH, int depth, int filters, int filter) =>
        (long)outW * outH * filters * ((long)filter * filter * depth + 1);

    public static long FullyConnected(long inputs, int outputs) => inputs * outputs + outputs;
}
