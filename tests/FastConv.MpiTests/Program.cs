// The data-parallel tests that need several processes: mpirun -np 2 --oversubscribe dotnet FastConv.MpiTests.dll.
// Each check is decided on every rank and counted over all of them (an allreduce of the failures); rank 0 prints one
// line per check, "mpi test <name>: passed|failed — <what was measured>", which .ci/run counts, and the exit code is
// the number of failed checks.
using FastConv;
using FastConv.Native;
using FastConv.Nn;
using FastConv.Nn.Data;
using FastConv.Nn.Distributed;

NativeBackend.Register();
Parallelism.Threads = 1;
using var comm = MpiCommunicator.Initialize();
int rank = comm.Rank, size = comm.Size, failed = 0;

void Check(string name, bool ok, string detail)
{
    var bad = new[] { ok ? 0f : 1f };
    comm.AllreduceSum(bad);
    if (!ok) Console.Error.WriteLine($"rank {rank}: mpi test {name} failed: {detail}");
    if (rank == 0) Console.WriteLine($"mpi test {name}: {(bad[0] == 0 ? "passed" : $"failed on {bad[0]} rank(s)")} — {detail}");
    if (bad[0] != 0) failed++;
}

if (size < 2)
{
    Console.Error.WriteLine($"FastConv.MpiTests needs at least 2 processes (mpirun -np 2 --oversubscribe), got {size}.");
    return 1;
}

// 1. Collectives on rank-dependent values: one right answer each, exact in float.
{
    var a = new float[100_003];
    for (int i = 0; i < a.Length; i++) a[i] = (rank + 1) * (i % 101) + rank;
    comm.AllreduceSum(a);
    int wrong = Enumerable.Range(0, a.Length).Count(i => a[i] != (i % 101) * size * (size + 1) / 2 + size * (size - 1) / 2);
    Check("allreduce-rank-values", wrong == 0, $"{a.Length} floats (r+1)·(i mod 101)+r summed over {size} ranks, {wrong} wrong");
    int root = size - 1;
    var b = Enumerable.Range(0, 4099).Select(i => (float)(rank * 10_000 + i)).ToArray();
    comm.Broadcast(b, root);
    wrong = Enumerable.Range(0, b.Length).Count(i => b[i] != root * 10_000 + i);
    Check("broadcast-rank-values", wrong == 0, $"{b.Length} floats from rank {root}, {wrong} wrong");
}

var be = BackendRegistry.Get("auto");
var (all, _) = FashionMnist.Load(FashionMnist.FindShipped() ?? throw new DirectoryNotFoundException("data/fashion-mnist not found above the working directory"));
var train = all.Subset("train-256", Enumerable.Range(0, 256).ToArray());
var val = all.Subset("val-32", Enumerable.Range(256, 32).ToArray());
var norm = train.ComputeNormalization();
const int GlobalBatch = 32, Seed = 1;
const string Model = "small-cnn"; // no batch norm: the replicas are then the one-process model exactly, up to the summation order

// 2. The initial broadcast: replicas initialised with different seeds hold rank 0's bytes afterwards.
{
    using var m = ModelZoo.Create(Model, be, train.ImageShape, 10, seed: 7 + rank);
    var dp = new DataParallel(comm, m);
    var tensors = m.Parameters.Select(p => p.Value).ToList();
    var (before, differBefore) = dp.CompareAcrossRanks(tensors);
    dp.Broadcast(tensors);
    var (after, differAfter) = dp.CompareAcrossRanks(tensors);
    using var m0 = ModelZoo.Create(Model, be, train.ImageShape, 10, seed: 7);
    bool isRank0s = DataParallel.Hash(m0.Parameters.Select(p => p.Value)) == after;
    Check("broadcast-weights-hash", differBefore == size - 1 && differAfter == 0 && isRank0s,
        $"SHA-256 of the weights differed from rank 0's on {differBefore} rank(s) before, {differAfter} after ({after[..16]}…, rank 0's seed: {isRank0s})");
}

// 3. k steps of 2 ranks × half the batch against 1 process × the whole batch (computed on every rank, without MPI).
(float[] Weights, List<float> Losses, DataParallel? Dp) Train(int batch, Func<Sequential, DataParallel?> parallelOf)
{
    using var m = ModelZoo.Create(Model, be, train.ImageShape, 10, Seed);
    using var opt = new Sgd(m.Parameters.ToList(), momentum: 0.9f, weightDecay: 1e-4f);
    using var loss = new SoftmaxCrossEntropyLoss(be);
    using var t = new Trainer(m, loss, opt, new ConstantLr(0.05f), batch, Seed);
    t.Parallel = parallelOf(m);
    t.Parallel?.Broadcast(m.Parameters.Select(p => p.Value));
    t.RunEpoch(new BatchLoader(train, batch, norm), new BatchLoader(val, batch, norm), epochs: 1);
    return (m.Parameters.SelectMany(p => p.Value.ToArray()).ToArray(), t.StepLosses, t.Parallel);
}
static double MaxDiff(float[] a, float[] b) => a.Zip(b, (x, y) => (double)Math.Abs(x - y)).Max();
{
    var one = Train(GlobalBatch, _ => null);
    // Small buckets, so the gradients travel in several (in reverse layer order) as a large model's would.
    var two = Train(GlobalBatch / size, m => new DataParallel(comm, m, bucketBytes: 4096));
    var half = Train(GlobalBatch / size, _ => null); // one process on half the batch: another trajectory
    double scale = one.Weights.Max(w => Math.Abs(w));
    double diff = MaxDiff(one.Weights, two.Weights), control = MaxDiff(one.Weights, half.Weights);
    // float sums in another order: each step's gradient differs by a few ulps; k = 8 momentum steps grow that
    // to ~1e-6 of the weights. 1e-5 of the largest weight allows that and is far below what another batch gives.
    double tol = 1e-5 * scale;
    int steps = one.Losses.Count;
    Check("equivalence-weights", steps == 8 && two.Losses.Count == steps && diff <= tol && control > 10 * tol,
        $"{steps} SGD steps of {Model}: 1 × {GlobalBatch} vs {size} × {GlobalBatch / size}: max |Δw| {diff:g3} (tolerance {tol:g3}); " +
        $"1 × {GlobalBatch / size} instead: {control:g3}; {two.Dp!.Buckets.Count} buckets");
    double lossDiff = one.Losses.Zip(two.Losses, (x, y) => (double)Math.Abs(x - y)).Max();
    double lossControl = one.Losses.Zip(half.Losses, (x, y) => (double)Math.Abs(x - y)).Max();
    Check("equivalence-loss-curve", lossDiff <= 1e-4 && lossControl > 1e-3,
        $"per-step loss 1 × {GlobalBatch} vs {size} × {GlobalBatch / size}: max |Δ| {lossDiff:g3} (tolerance 1e-4); 1 × {GlobalBatch / size} instead: {lossControl:g3}");
    // reverse layer order: the first bucket holds the last layer's bias (10 classes), the order backward makes them
    Check("buckets-reverse-order", two.Dp.Buckets.Count > 1 && two.Dp.Buckets[0].Floats == 10 && two.Dp.FloatsPerStep == one.Weights.Length + 2,
        $"{two.Dp.Buckets.Count} buckets of {string.Join(", ", two.Dp.Buckets.Select(b => $"{b.Gradients} gradients/{b.Floats} floats"))}");
}

if (rank == 0) Console.WriteLine($"FastConv.MpiTests: {size} ranks, {failed} failed");
return failed;
