using FastConv.Nn;

namespace FastConv.Perf;

/// <summary>What a training-step benchmark holds: the model, its trainer (softmax cross-entropy, SGD momentum 0.9), a random
/// batch and cyclic labels; made in a GlobalSetup, disposed in its GlobalCleanup.</summary>
public sealed class StepRig : IDisposable
{
    private readonly Sequential _model;
    private readonly Tensor _x, _y;
    private readonly float _lr;

    public StepRig(IBackend be, Sequential model, int batch, float lr, float weightDecay = 0f)
    {
        _model = model;
        _model.Initialize(1);
        _lr = lr;
        Trainer = new Trainer(_model, new SoftmaxCrossEntropyLoss(be), new Sgd(_model.Parameters.ToList(), 0.9f, weightDecay: weightDecay),
                              new ConstantLr(lr), batch, 1);
        _x = Suite.Random(be, [batch, .. model.InputShape], 1);
        _y = be.Allocate([batch]);
        _y.CopyFrom(Enumerable.Range(0, batch).Select(i => (float)(i % 10)).ToArray());
    }

    public Trainer Trainer { get; }

    public float Step() => Trainer.TrainStep(_x, _y, _lr);

    public void Dispose()
    {
        Trainer.Dispose(); Trainer.Loss.Dispose(); Trainer.Optimizer.Dispose(); _model.Dispose();
        _x.Dispose(); _y.Dispose();
    }
}
