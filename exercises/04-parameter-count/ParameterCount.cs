namespace FastConv.Exercises;

/// <summary>Exercise 4: parameter counts, with and without parameter sharing (README.md in this folder).</summary>
public static class ParameterCount
{
    /// <summary>Weights and biases of a conv layer: <paramref name="filters"/> filters of size F × F over an input of
    /// depth <paramref name="depth"/>, one bias each (parameter sharing: one filter serves every position).</summary>
    public static long Conv(int depth, int filters, int filter)
    {
        throw new NotImplementedException();
    }

    /// <summary>The same layer if every neuron of its outW × outH × filters output had weights (and a bias) of its own.</summary>
    public static long ConvWithoutSharing(int outW, int outH, int depth, int filters, int filter)
    {
        throw new NotImplementedException();
    }

    /// <summary>Weights and biases of a fully-connected layer from <paramref name="inputs"/> to <paramref name="outputs"/>.</summary>
    public static long FullyConnected(long inputs, int outputs)
    {
        throw new NotImplementedException();
    }
}
