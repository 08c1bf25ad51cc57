namespace FastConv.Nn;

/// <summary>Models by name, each built for an input shape [C, H, W] and a class count.</summary>
public static class ModelZoo
{
    public static readonly string[] Names =
        ["cs231n-3layer", "cs231n-convnet", "lenet", "small-cnn", "vgg-small", "vgg16", "resnet20", "resnet18", "alexnet", "googlenet"];

    /// <summary>The published parameter count of each case-study preset at its own input and class count
    /// (<see cref="PublishedInput"/>); tests check every one exactly.</summary>
    public static readonly IReadOnlyDictionary<string, long> PublishedParameters = new Dictionary<string, long>
    {
        ["resnet20"] = 269_722, ["resnet18"] = 11_689_512, ["alexnet"] = 61_100_840, ["googlenet"] = 6_998_552, ["vgg16"] = 138_357_544,
    };

    /// <summary>The input [C, H, W] and class count a preset is published for (CIFAR-10 for resnet20, ImageNet for the
    /// others; null for FastConv's own small models).</summary>
    public static (int[] Input, int Classes)? PublishedInput(string name) => name switch
    {
        "resnet20" => ([3, 32, 32], 10),
        "resnet18" or "alexnet" or "googlenet" or "vgg16" => ([3, 224, 224], 1000),
        _ => null,
    };

    /// <summary>What each preset is, for help texts.</summary>
    public static string Description(string name) => name switch
    {
        "cs231n-3layer" => "conv 32 7x7 - relu - 2x2 max pool - affine 100 - relu - affine (the assignment's ThreeLayerConvNet)",
        "cs231n-convnet" => "the notes' pattern INPUT - [CONV - RELU - POOL] x2 - FC - RELU - FC: conv 32 3x3, conv 64 3x3, fc 128",
        "lenet" => "conv 6 5x5 - relu - pool - conv 16 5x5 - relu - pool - fc 120 - fc 84 - fc (LeNet-5 with ReLU and max pool)",
        "small-cnn" => "conv 16 5x5 - relu - pool - conv 32 5x5 - relu - pool - fc (the training step the perf suite times against TorchSharp)",
        "vgg-small" => "[conv 3x3 - bn - relu] x2 - pool, three times (32, 64, 128), fc 256 - dropout - fc",
        "vgg16" => "VGG-16 configuration D (13 conv 3x3 + 3 fc; 138M parameters at 224x224)",
        "resnet20" => "He et al. 2015 section 4.2: conv 3x3 16 - bn - relu, 3 stages of 3 residual blocks (16, 32, 64 channels), option A shortcuts, gap, fc (269,722 parameters at 3x32x32)",
        "resnet18" => "ResNet-18 as torchvision builds it: conv 7x7/2 - bn - relu - pool 3x3/2, [2, 2, 2, 2] basic blocks (64..512), option B projections, gap, fc (11,689,512 at 224x224, 1000 classes)",
        "alexnet" => "AlexNet in torchvision's single-tower form: 5 conv (64, 192, 384, 256, 256), 3 max pools 3x3/2, fc 4096 - 4096 - classes with dropout (61,100,840)",
        "googlenet" => "GoogLeNet, the paper's Table 1: 9 inception modules with true 5x5 branches, biases, no batch norm or auxiliary classifiers (6,998,552)",
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
            "resnet20" => ResNetCifar(be, inputShape, classes, blocksPerStage: 3),
            "resnet18" => ResNet18(be, inputShape, classes),
            "alexnet" => new Sequential(be, inputShape,
                new Conv2d(be, c, 64, 11, stride: 4, padding: 2), new ReLU(be), new MaxPool2d(be, 3, 2),
                new Conv2d(be, 64, 192, 5, padding: 2), new ReLU(be), new MaxPool2d(be, 3, 2),
                new Conv2d(be, 192, 384, 3, padding: 1), new ReLU(be), new Conv2d(be, 384, 256, 3, padding: 1), new ReLU(be),
                new Conv2d(be, 256, 256, 3, padding: 1), new ReLU(be), new MaxPool2d(be, 3, 2),
                new Flatten(be), new DropoutLayer(be, 0.5f), new Linear(be, 256 * Pooled(Pooled(Pooled((h + 4 - 11) / 4 + 1))) * Pooled(Pooled(Pooled((w + 4 - 11) / 4 + 1))), 4096),
                new ReLU(be), new DropoutLayer(be, 0.5f), new Linear(be, 4096, 4096), new ReLU(be), new Linear(be, 4096, classes, heInit: false)),
            "googlenet" => GoogLeNet(be, inputShape, classes),
            _ => throw UnknownModel(name),
        };
        if (initialize) m.Initialize(seed);
        return m;
    }

    /// <summary>A 3x3 max pool of stride 2 without padding: (s - 3)/2 + 1.</summary>
    private static int Pooled(int s) => (s - 3) / 2 + 1;

    /// <summary>A convolution without bias and its batch norm (the pair every ResNet layer is), then a ReLU when asked.</summary>
    private static IEnumerable<Layer> ConvBn(IBackend be, int cin, int cout, int k, int stride, bool relu)
    {
        yield return new Conv2d(be, cin, cout, k, stride, k / 2, bias: false);
        yield return new BatchNorm2d(be, cout);
        if (relu) yield return new ReLU(be);
    }

    /// <summary>He et al.'s basic block: [3x3 conv - bn - relu - 3x3 conv - bn] + shortcut, then relu. A block that changes size
    /// or channels takes option A (<see cref="ChannelPadShortcut"/>) or option B (1x1 projection and batch norm).</summary>
    public static ResidualBlock BasicBlock(IBackend be, int cin, int cout, int stride, bool projection)
    {
        Layer[] body = [.. ConvBn(be, cin, cout, 3, stride, relu: true), .. ConvBn(be, cout, cout, 3, 1, relu: false)];
        Layer[] shortcut = stride == 1 && cin == cout ? []
            : projection ? [new Conv2d(be, cin, cout, 1, stride, 0, bias: false), new BatchNorm2d(be, cout)]
            : [new ChannelPadShortcut(be, cin, cout, stride)];
        return new ResidualBlock(be, body, shortcut);
    }

    /// <summary>The CIFAR ResNets of He et al. §4.2 (6n + 2 layers; n = 3 is ResNet-20): option A shortcuts.</summary>
    private static Sequential ResNetCifar(IBackend be, int[] input, int classes, int blocksPerStage)
    {
        var layers = new List<Layer>(ConvBn(be, input[0], 16, 3, 1, relu: true));
        int cin = 16;
        foreach (var (cout, stride) in new[] { (16, 1), (32, 2), (64, 2) })
            for (int i = 0; i < blocksPerStage; i++) { layers.Add(BasicBlock(be, cin, cout, i == 0 ? stride : 1, projection: false)); cin = cout; }
        layers.Add(new GlobalAvgPool2d(be));
        layers.Add(new Linear(be, 64, classes, heInit: false));
        return new Sequential(be, input, [.. layers]);
    }

    private static Sequential ResNet18(IBackend be, int[] input, int classes)
    {
        var layers = new List<Layer>(ConvBn(be, input[0], 64, 7, 2, relu: true)) { new MaxPool2d(be, 3, 2, 1) };
        int cin = 64;
        foreach (var (cout, stride) in new[] { (64, 1), (128, 2), (256, 2), (512, 2) })
            for (int i = 0; i < 2; i++) { layers.Add(BasicBlock(be, cin, cout, i == 0 ? stride : 1, projection: true)); cin = cout; }
        layers.Add(new GlobalAvgPool2d(be));
        layers.Add(new Linear(be, 512, classes, heInit: false));
        return new Sequential(be, input, [.. layers]);
    }

    /// <summary>GoogLeNet as in Table 1 of Szegedy et al. 2014 (without the local response normalisation, which has no parameters).</summary>
    private static Sequential GoogLeNet(IBackend be, int[] input, int classes)
    {
        InceptionBlock I(int cin, int c1, int r3, int c3, int r5, int c5, int p) => InceptionBlock.GoogLeNet(be, cin, c1, r3, c3, r5, c5, p);
        return new Sequential(be, input,
            new Conv2d(be, input[0], 64, 7, 2, 3), new ReLU(be), new MaxPool2d(be, 3, 2, 1),
            new Conv2d(be, 64, 64, 1), new ReLU(be), new Conv2d(be, 64, 192, 3, 1, 1), new ReLU(be), new MaxPool2d(be, 3, 2, 1),
            I(192, 64, 96, 128, 16, 32, 32), I(256, 128, 128, 192, 32, 96, 64), new MaxPool2d(be, 3, 2, 1),
            I(480, 192, 96, 208, 16, 48, 64), I(512, 160, 112, 224, 24, 64, 64), I(512, 128, 128, 256, 24, 64, 64),
            I(512, 112, 144, 288, 32, 64, 64), I(528, 256, 160, 320, 32, 128, 128), new MaxPool2d(be, 3, 2, 1),
            I(832, 256, 160, 320, 32, 128, 128), I(832, 384, 192, 384, 48, 128, 128),
            new GlobalAvgPool2d(be), new DropoutLayer(be, 0.4f), new Linear(be, 1024, classes, heInit: false));
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
