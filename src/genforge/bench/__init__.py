"""Benchmark: `python -m genforge.bench [--levers] [--load] [--eval fashion-mnist] [--profile] [--video] [--text
fortunes] [--music bach-chorales]`.

Prints Markdown tables, every figure min / median / max over timed windows after
a warm-up, beside references measured in the same run (machines are shared and
noisy; ratios compare, absolute numbers do not):

- the machine's fp32 GEMM peak (GFLOP/s at the current thread count);
- training images/s of the article's DCGAN as a plain eager PyTorch loop (the
  reference), the article's own TensorFlow code (when TensorFlow is installed),
  and every genforge family and preset through genforge's train step, with FLOPs
  per image and the achieved share of the GEMM peak; CycleGAN's loop as its reference code writes it
  against genforge's cyclegan step with the same networks;
- video: a plain PyTorch loop of the video GAN's `default` networks against genforge's videogan and
  video-vae presets, in clips/s;
- `--levers`: the plain loop with channels_last, bf16 autocast, torch.compile
  (and its compile time), fused Adam, one thread;
- `--load`: the same under a busy neighbour process on one core, torch's default
  threads against genforge's measured thread count (`train.threads=auto`);
- `--eval TARGET`: extractor images/s, seconds of a whole 10,000-sample
  evaluation and peak memory (TARGET: a run directory or a data source);
- `--profile`: the ops where the plain article step spends its time.
"""

from __future__ import annotations

import argparse
import statistics
import time
from typing import Optional

import torch
from torch.profiler import ProfilerActivity, profile

from ..modalities.video.bench import video_table
from ..models import FAMILIES
from ..train.threads import ThreadTuner
from . import tf_article
from .evaluation import eval_bench
from .flops import gemm_peak, step_flops
from .text import text_table
from .throughput import (
    SHAPE,
    busy_neighbour,
    genforge_step,
    measure,
    plain_article_dcgan_step,
    plain_cyclegan_step,
)

HEADER = (
    "| run | batch | images/s min | median | max | vs reference | GFLOP/image | GFLOP/s | of GEMM peak |\n"
    "|---|---|---|---|---|---|---|---|---|"
)


class Table:
    """Times steps and prints one Markdown row each, against the reference's median."""

    def __init__(self, data: torch.Tensor, repeats: int, seconds: float, peak: float):
        self.data, self.repeats, self.seconds, self.peak = data, repeats, seconds, peak
        self.ref: Optional[float] = None
        self.medians: dict[str, float] = {}

    def row(self, name: str, step, batch: int, tuner: Optional[ThreadTuner] = None, flops: bool = True) -> float:
        x = self.data[:batch]
        per_image = step_flops(step, x) / batch if flops else None
        rates = measure(step, batch, self.data, self.repeats, self.seconds, tuner)
        med = statistics.median(rates)
        self.ref = self.ref or med
        self.medians[name] = med
        cols = [name, str(batch), f"{min(rates):.0f}", f"{med:.0f}", f"{max(rates):.0f}", f"{med / self.ref:.2f}"]
        if per_image:
            achieved = per_image * med / 1e9
            cols += [f"{per_image / 1e9:.3f}", f"{achieved:.0f}", f"{achieved / self.peak:.0%}"]
        else:
            cols += ["-", "-", "-"]
        print("| " + " | ".join(cols) + " |", flush=True)
        return med


def profile_ops(step, batch: int, data: torch.Tensor, steps: int = 5, top: int = 8) -> list[tuple[str, float]]:
    """The ops taking the most self CPU time over `steps` steps (after warm-up), with their shares."""
    x = data[:batch]
    for _ in range(2):
        step(x)
    with profile(activities=[ProfilerActivity.CPU]) as prof:
        for _ in range(steps):
            step(x)
    events = prof.key_averages()
    total = sum(e.self_cpu_time_total for e in events)
    ranked = sorted(events, key=lambda e: -e.self_cpu_time_total)[:top]
    return [(e.key, e.self_cpu_time_total / total) for e in ranked]


def parse_args(argv=None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--seconds", type=float, default=4.0)
    ap.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's)")
    ap.add_argument("--levers", action="store_true", help="time each speed lever on the plain article loop")
    ap.add_argument("--load", action="store_true", help="time beside a process busy on one core")
    ap.add_argument("--eval", default=None, metavar="TARGET", help="time evaluation: a run directory or data source")
    ap.add_argument("--no-train", action="store_true", help="skip the training tables")
    ap.add_argument("--video", action="store_true", help="time the video families alone (the video table)")
    ap.add_argument("--profile", action="store_true", help="where the plain article step spends its time, by op")
    ap.add_argument("--text", default=None, metavar="SOURCE", help="time the text families on SOURCE (e.g. fortunes)")
    ap.add_argument(
        "--music", default=None, metavar="SOURCE", help="time the music families on SOURCE (e.g. bach-chorales)"
    )
    return ap.parse_args(argv)


def training_table(data: torch.Tensor, floats: torch.Tensor, args, peak: float, threads: int) -> float:
    """The training throughput table: the plain article loop (the reference, whose median it returns), every
    image family's presets, bf16, and the article's TensorFlow code when it is installed."""
    print("## Training throughput\n\n" + HEADER)
    table = Table(floats, args.repeats, args.seconds, peak)
    reference = table.row("reference: the article's DCGAN, plain eager PyTorch", *plain_article_dcgan_step())
    table.data = data  # genforge's steps take uint8 batches, as the trainer feeds them
    for family in [f for f in FAMILIES.names() if FAMILIES.get(f).modality == "image"]:
        for preset in FAMILIES.get(family).presets:
            table.row(f"genforge {family} `{preset}`", *genforge_step(family, preset))
    bf16 = table.row(
        "genforge dcgan `article`, bf16 autocast", *genforge_step("dcgan", "article", ("train.precision=bf16",))
    )
    # TensorFlow last: its thread pools stay alive in this process once started
    if tf_article.available():
        tf = table.row(
            "the article's TensorFlow code (tf.function step)", *tf_article.tf_article_dcgan_step(threads), flops=False
        )
        fp32 = table.medians["genforge dcgan `article`"]
        print(f"\ngenforge `article` vs the TensorFlow code: fp32 {fp32 / tf:.2f}x, bf16 {bf16 / tf:.2f}x")
    else:
        print(
            "| the article's TensorFlow code: skipped, TensorFlow is not installed (pip install tensorflow-cpu) "
            "| | | | | | | | |"
        )
    return reference


def cyclegan_table(data: torch.Tensor, args, peak: float) -> None:
    """Unpaired translation: the reference code's CycleGAN loop against genforge's step, same networks."""
    print("\n## CycleGAN training throughput\n\n" + HEADER)
    table = Table(data, args.repeats, args.seconds, peak)
    table.row("reference: CycleGAN's loop as its reference code writes it, plain eager PyTorch", *plain_cyclegan_step())
    table.row("genforge cyclegan `default` (the same networks)", *genforge_step("cyclegan", "default"))


def levers_table(floats: torch.Tensor, args, peak: float, threads: int) -> None:
    """Each speed lever on the plain eager article DCGAN, against it in the same run."""
    print("\n## Levers on the plain eager article DCGAN\n\n" + HEADER)
    table = Table(floats, args.repeats, args.seconds, peak)
    table.row("eager fp32 (reference)", *plain_article_dcgan_step())
    table.row("channels_last", *plain_article_dcgan_step(channels_last=True))
    table.row("bf16 autocast", *plain_article_dcgan_step(bf16=True))
    table.row("fused Adam", *plain_article_dcgan_step(fused=True))
    step, batch = plain_article_dcgan_step(compile=True)
    t0 = time.perf_counter()
    step(floats[:batch])
    print(f"| torch.compile: first step (compilation) took {time.perf_counter() - t0:.1f} s | | | | | | | | |")
    table.row("torch.compile", step, batch, flops=False)
    torch.set_num_threads(1)
    table.row("1 thread", *plain_article_dcgan_step())
    torch.set_num_threads(threads)


def load_table(floats: torch.Tensor, args, peak: float, threads: int, reference: Optional[float]) -> None:
    """The plain loop beside a process busy on one core: torch's thread count against the measured one."""
    print("\n## Beside a process busy on one core\n\n" + HEADER)
    table = Table(floats, args.repeats, args.seconds, peak)
    with busy_neighbour():
        fixed = table.row(f"plain eager, torch's {threads} threads", *plain_article_dcgan_step())
        auto = table.row(
            "plain eager, genforge's measured thread count (train.threads=auto)",
            *plain_article_dcgan_step(),
            tuner=ThreadTuner(),
        )
    torch.set_num_threads(threads)
    if reference is not None:
        print(
            f"\nunder load / quiet: {threads} threads {fixed / reference:.2f}, "
            f"measured thread count {auto / reference:.2f}"
        )


def eval_table(target: str, repeats: int) -> None:
    """Evaluation speed and memory on a run directory or data source."""
    r = eval_bench(target, repeats=min(repeats, 3))
    fm = lambda v: f"{min(v):.0f} / {statistics.median(v):.0f} / {max(v):.0f}"  # noqa: E731
    print(f"\n## Evaluation of {r['n']:,} images ({r['target']})\n")
    print("| what | min / median / max |\n|---|---|")
    print(f"| extractor images/s | {fm(r['extractor_images_per_s'])} |")
    print(
        f"| whole evaluation, seconds | {min(r['evaluate_seconds']):.1f} / {r['median_seconds']:.1f} / "
        f"{max(r['evaluate_seconds']):.1f} |"
    )
    before = f"(before the evaluation: {r['peak_rss_mib_before']:.0f})"
    print(f"| peak resident memory, MiB | {r['peak_rss_mib']:.0f} {before} |")


def main(argv=None) -> None:
    args = parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    threads = torch.get_num_threads()
    torch.manual_seed(0)
    data = torch.randint(0, 256, (8192, *SHAPE), dtype=torch.uint8)  # throughput does not depend on content
    floats = data.float() / 127.5 - 1
    peaks = gemm_peak(args.repeats)
    peak = statistics.median(peaks)
    print(
        f"torch {torch.__version__}, {threads} threads, {SHAPE[1]}x{SHAPE[2]} images, "
        f"{args.repeats} x {args.seconds:g} s windows after one warm-up window"
    )
    print(
        f"fp32 GEMM peak (2048x2048 matmul): {min(peaks):.0f} / {peak:.0f} / {max(peaks):.0f} GFLOP/s "
        "(min / median / max)\n"
    )
    if args.video:
        video_table(Table, args, peak)
        return
    reference = None if args.no_train else training_table(data, floats, args, peak, threads)
    if not args.no_train:
        cyclegan_table(data, args, peak)
        video_table(Table, args, peak)
    if args.text:
        print("\n## Text training throughput\n")
        text_table(args.text, args.repeats, args.seconds)
    if args.music:
        print("\n## Melody training throughput\n")
        text_table(args.music, args.repeats, args.seconds, "music")
    if args.levers:
        levers_table(floats, args, peak, threads)
    if args.load:
        load_table(floats, args, peak, threads, reference)
    if args.profile:
        print("\n## Where the plain eager article DCGAN step spends its time\n")
        print("| op | share of CPU time |\n|---|---|")
        for name, share in profile_ops(*plain_article_dcgan_step(), floats):
            print(f"| `{name}` | {share:.1%} |")
    if args.eval:
        eval_table(args.eval, args.repeats)


if __name__ == "__main__":
    main()
