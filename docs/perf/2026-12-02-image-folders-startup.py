"""Time from spawning `fastconv train --data folder` to the start of training (the cached-start figure of
docs/perf/2026-12-02-image-folders.md). Usage: python3 <this> CACHE_DIR RUNS IMAGE_FOLDER (after a Release build)."""
import os, shutil, signal, subprocess, sys, tempfile, time

repo = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
fc = ["dotnet", os.path.join(repo, "src/FastConv.Cli/bin/Release/net10.0/FastConv.Cli.dll")]
cache, runs, folder = sys.argv[1], int(sys.argv[2]), sys.argv[3]
for i in range(runs):
    out = tempfile.mkdtemp(prefix="fc-start-")
    shutil.rmtree(out)
    t0 = time.monotonic()
    p = subprocess.Popen(fc + ["train", "--data", "folder", "--data-dir", folder, "--cache-dir", cache, "--epochs", "1", "--out", out],
                         stdout=subprocess.PIPE, text=True)
    report, t = "", float("nan")
    for line in p.stdout:
        if line.startswith("Image folder"): report = line.strip() + " " + next(p.stdout).strip()
        if line.startswith("fastconv train:"):
            t = time.monotonic() - t0
            break
    p.send_signal(signal.SIGINT)
    p.wait()
    shutil.rmtree(out, ignore_errors=True)
    print(f"run {i}: {t:.2f} s from process start to training start; {report}")
