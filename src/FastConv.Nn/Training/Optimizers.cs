namespace FastConv.Nn;

/// <summary>
/// Updates parameters from their gradients on the backend. State (velocities, Adam moments) is allocated once
/// per parameter and exposed by name so checkpoints save and restore it.
/// </summary>
public abstract class Optimizer : IDisposable
{
    protected Optimizer(IReadOnlyList<Parameter> parameters, float weightDecay)
    {
        if (!(weightDecay >= 0f && float.IsFinite(weightDecay)))
            throw new ArgumentOutOfRangeException(nameof(weightDecay), weightDecay, "Optimizer: weight decay must be ≥ 0.");
        Parameters = parameters;
        WeightDecay = weightDecay;
    }

    public IReadOnlyList<Parameter> Parameters { get; }
    /// <summary>L2 regularisation strength λ: the gradient gains λ·w (the loss ½λ‖w‖²), for weights only.</summary>
    public float WeightDecay { get; }
    public abstract string Name { get; }
    /// <summary>Number of updates made so far (Adam's bias correction uses it; saved in checkpoints).</summary>
    public long Steps { get; set; }
    /// <summary>Named state tensors, in a fixed order, for checkpoints.</summary>
    public abstract IEnumerable<(string Name, Tensor Value)> State { get; }

    public void Step(float lr)
    {
        if (!(lr > 0f && float.IsFinite(lr))) throw new ArgumentOutOfRangeException(nameof(lr), lr, "Optimizer: learning rate must be > 0.");
        Steps++;
        for (int i = 0; i < Parameters.Count; i++) Update(i, Parameters[i], lr, Parameters[i].Decay ? WeightDecay : 0f);
    }

    protected abstract void Update(int index, Parameter p, float lr, float weightDecay);

    protected static Tensor[] Zeros(IReadOnlyList<Parameter> ps)
    {
        var ts = new Tensor[ps.Count];
        for (int i = 0; i < ts.Length; i++)
        {
            ts[i] = ps[i].Value.Backend.Allocate(ps[i].Value.Shape);
            ts[i].CopyFrom(new float[ts[i].Length]);
        }
        return ts;
    }

    public abstract void Dispose();
}

/// <summary>SGD with (Nesterov) momentum, PyTorch's formulation: v = μv + g; w −= lr·v (or lr·(g + μv)).</summary>
public sealed class Sgd : Optimizer
{
    private readonly Tensor[] _velocity;

    public Sgd(IReadOnlyList<Parameter> parameters, float momentum = 0.9f, bool nesterov = false, float weightDecay = 0f)
        : base(parameters, weightDecay)
    {
        if (!(momentum >= 0f && momentum < 1f)) throw new ArgumentOutOfRangeException(nameof(momentum), momentum, "SGD: momentum must be in [0, 1).");
        Momentum = momentum; Nesterov = nesterov;
        _velocity = Zeros(parameters);
    }

    public float Momentum { get; }
    public bool Nesterov { get; }
    public override string Name => Nesterov ? "sgd-nesterov" : "sgd";
    public override IEnumerable<(string Name, Tensor Value)> State => Parameters.Select((p, i) => (p.Name + ".velocity", _velocity[i]));

    protected override void Update(int i, Parameter p, float lr, float wd) =>
        p.Value.Backend.SgdMomentumUpdate(p.Value, p.Grad, _velocity[i], lr, Momentum, wd, Nesterov);

    public override void Dispose() { foreach (var t in _velocity) t.Dispose(); }
}

/// <summary>Adam (Kingma &amp; Ba) with bias correction; the notes' recommended default.</summary>
public sealed class Adam : Optimizer
{
    private readonly Tensor[] _m, _v;

    public Adam(IReadOnlyList<Parameter> parameters, float beta1 = 0.9f, float beta2 = 0.999f, float epsilon = 1e-8f, float weightDecay = 0f)
        : base(parameters, weightDecay)
    {
        Beta1 = beta1; Beta2 = beta2; Epsilon = epsilon;
        _m = Zeros(parameters); _v = Zeros(parameters);
    }

    public float Beta1 { get; }
    public float Beta2 { get; }
    public float Epsilon { get; }
    public override string Name => "adam";
    public override IEnumerable<(string Name, Tensor Value)> State =>
        Parameters.SelectMany((p, i) => new[] { (p.Name + ".m", _m[i]), (p.Name + ".v", _v[i]) });

    protected override void Update(int i, Parameter p, float lr, float wd) =>
        p.Value.Backend.AdamUpdate(p.Value, p.Grad, _m[i], _v[i], lr, Beta1, Beta2, Epsilon, checked((int)Steps), wd);

    public override void Dispose() { foreach (var t in _m.Concat(_v)) t.Dispose(); }
}

/// <summary>Learning rate as a function of training progress (in epochs, fractional within an epoch).</summary>
public abstract record LrSchedule(float BaseLr)
{
    public abstract float Rate(double epoch);
    public static LrSchedule Create(string name, float baseLr, int epochs) => name switch
    {
        "constant" => new ConstantLr(baseLr),
        "step" => new StepDecayLr(baseLr, Math.Max(1, epochs / 3), 0.1f),
        "cosine" => new CosineLr(baseLr, epochs),
        "multistep" => new MultiStepLr(baseLr, [epochs * 0.5, epochs * 0.75], 0.1f),
        _ => throw new ArgumentException($"Unknown learning-rate schedule '{name}': use constant, step, multistep or cosine."),
    };
}

public sealed record ConstantLr(float BaseLr) : LrSchedule(BaseLr)
{
    public override float Rate(double epoch) => BaseLr;
}

/// <summary>lr · γ^⌊epoch / every⌋ (the notes' "step decay").</summary>
public sealed record StepDecayLr(float BaseLr, int Every, float Gamma) : LrSchedule(BaseLr)
{
    public override float Rate(double epoch) => BaseLr * MathF.Pow(Gamma, (int)(epoch / Every));
}

/// <summary>lr · γ^(milestones passed), the milestones in (fractional) epochs: He et al.'s ResNet schedule divides by 10
/// at 32k and 48k of 64k iterations, i.e. at half and three quarters of the run ("multistep").</summary>
public sealed record MultiStepLr(float BaseLr, double[] Milestones, float Gamma) : LrSchedule(BaseLr)
{
    public override float Rate(double epoch) => BaseLr * MathF.Pow(Gamma, Milestones.Count(m => epoch >= m));
}

/// <summary>Cosine annealing from lr to MinLr over the run: lr_min + ½(lr − lr_min)(1 + cos(π·epoch/epochs)).</summary>
public sealed record CosineLr(float BaseLr, int Epochs, float MinLr = 0f) : LrSchedule(BaseLr)
{
    public override float Rate(double epoch)
    {
        double t = Math.Clamp(epoch / Epochs, 0, 1);
        // Never exactly zero: the last steps still move, and an optimizer refuses lr = 0.
        return (float)Math.Max(MinLr + 0.5 * (BaseLr - MinLr) * (1 + Math.Cos(Math.PI * t)), BaseLr * 1e-3);
    }
}
