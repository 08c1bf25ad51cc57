namespace FastConv.Nn;

/// <summary>Models by name, each built for an input shape [C, H, W] and a class count.</summary>
public static class ModelZoo
{
    public static readonly string[] Names = ["cs231n-3layer", "cs231n-convnet", "lenet", "small-cnn", "vgg-small", "vgg16"];

    /// <summary>What each preset is, for help texts.</summary>
    public static string Description(string name) => name switch
    {
        "cs231n-3layer" => "conv 32 7x7 - relu - 2x2 max pool - affine 100 - relu - affine (the assignment's ThreeLayerConvNet)",
        "cs231n-convnet" => "the notes' pattern INPUT - [CONV - RELU - POOL] x2 - FC - RELU - FC: conv 32 3x3, conv 64 3x3, fc 128",
        "lenet" => "conv 6 5x5 - relu - pool - conv 16 5x5 - relu - pool - fc 120 - fc 84 - fc (LeNet-5 with ReLU and max pool)",
        "small-cnn" => "conv 16 5x5 - relu - pool - conv 32 5x5 - relu - pool - fc (the training step the perf suite times against TorchSharp)",
        "vgg-small" => "[conv 3x3 - bn - relu] x2 - pool, three times (32, 64, 128), fc 256 - dropout - fc",
        "vgg16" => "VGG-16 configuration D (13 conv 3x3 + 3 fc; 138M parameters at 224x224)",
        _ => throw UnknownModel(name),
    };

    private static ArgumentException UnknownModel(string name) =>
        new($"Unknown model '{name}': choose one of {string.Join(", ", Names)}, or write a spec like [conv3-32,relu]*2,pool2,fc-128,relu,fc.");

    /// <summary>Whether <paramref name="name"/> is a preset or a model spec in the notes' notation (<see cref="ModelSpec"/>).</summary>
    public static bool IsSpec(string name) => !Names.Contains(name) && ModelSpec.LooksLikeSpec(name);

    /// <summary>Builds a preset, or a model spec (<see cref="ModelSpec"/>); <paramref name="initialize"/> false leaves the
    /// weights unset (for summaries, or before loading a checkpoint).</summary>
    public static Sequential Create(string name, IBackend be, int[] inputShape, int classes, int seed, bool initialize = true)
    {
        if (inputShape.Length != 3) throw new ArgumentException($"Model input shape must be [C, H, W], got {ShapeMath.Format(inputShape)}.");
        if (classes < 2) throw new ArgumentOutOfRangeException(nameof(classes), classes, "A classifier needs at least 2 classes.");
        int c = inputShape[0], h = inputShape[1], w = inputShape[2];
        Sequential m = IsSpec(name) ? ModelSpec.Build(name, be, inputShape, classes) : name switch
        {
            "cs231n-3layer" => new Sequential(be, inputShape,
                new Conv2d(be, c, 32, 7, padding: 3), new ReLU(be), new MaxPool2d(be),
                new Flatten(be), new Linear(be, 32 * (h / 2) * (w / 2), 100), new ReLU(be),
                new Linear(be, 100, classes, heInit: false)),
            "cs231n-convnet" => new Sequential(be, inputShape,
                new Conv2d(be, c, 32, 3, padding: 1), new ReLU(be), new MaxPool2d(be),
                new Conv2d(be, 32, 64, 3, padding: 1), new ReLU(be), new MaxPool2d(be),
                new Flatten(be), new Linear(be, 64 * (h / 4) * (w / 4), 128), new ReLU(be),
                new Linear(be, 128, classes, heInit: false)),
            "lenet" => new Sequential(be, inputShape,
                new Conv2d(be, c, 6, 5, padding: 2), new ReLU(be), new MaxPool2d(be),
                new Conv2d(be, 6, 16, 5), new ReLU(be), new MaxPool2d(be),
                new Flatten(be), new Linear(be, 16 * ((h / 2 - 4) / 2) * ((w / 2 - 4) / 2), 120), new ReLU(be),
                new Linear(be, 120, 84), new ReLU(be), new Linear(be, 84, classes, heInit: false)),
            "small-cnn" => new Sequential(be, inputShape,
                new Conv2d(be, c, 16, 5), new ReLU(be), new MaxPool2d(be),
                new Conv2d(be, 16, 32, 5), new ReLU(be), new MaxPool2d(be),
                new Flatten(be), new Linear(be, 32 * (((h - 4) / 2 - 4) / 2) * (((w - 4) / 2 - 4) / 2), classes, heInit: false)),
            "vgg-small" => new Sequential(be, inputShape,
            [
                .. VggBlock(be, c, 32, 2, bn: true), .. VggBlock(be, 32, 64, 2, bn: true), .. VggBlock(be, 64, 128, 2, bn: true),
                new Flatten(be), new Linear(be, 128 * (h / 8) * (w / 8), 256), new ReLU(be), new DropoutLayer(be, 0.3f),
                new Linear(be, 256, classes, heInit: false),
            ]),
            "vgg16" => new Sequential(be, inputShape,
            [
                .. VggBlock(be, c, 64, 2, bn: false), .. VggBlock(be, 64, 128, 2, bn: false), .. VggBlock(be, 128, 256, 3, bn: false),
                .. VggBlock(be, 256, 512, 3, bn: false), .. VggBlock(be, 512, 512, 3, bn: false),
                new Flatten(be), new Linear(be, 512 * (h / 32) * (w / 32), 4096), new ReLU(be), new DropoutLayer(be, 0.5f),
                new Linear(be, 4096, 4096), new ReLU(be), new DropoutLayer(be, 0.5f), new Linear(be, 4096, classes, heInit: false),
            ]),
            _ => throw UnknownModel(name),
        };
        if (initialize) m.Initialize(seed);
        return m;
    }

    private static IEnumerable<Layer> VggBlock(IBackend be, int cin, int cout, int convs, bool bn)
    {
        for (int i = 0; i < convs; i++)
        {
            yield return new Conv2d(be, i == 0 ? cin : cout, cout, 3, padding: 1);
            if (bn) yield return new BatchNorm2d(be, cout);
            yield return new ReLU(be);
        }
        yield return new MaxPool2d(be);
    }
}
