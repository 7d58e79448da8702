import json

import pytest
import torch

from genforge.bench import profile_ops
from genforge.bench.flops import gemm_peak, step_flops
from genforge.bench.quality import first_reach, marks_for, report
from genforge.bench.throughput import genforge_step, measure, plain_article_dcgan_step

pytestmark = pytest.mark.integration  # every test here starts processes


def test_flop_count_of_a_known_step():
    w = torch.randn(64, 32, requires_grad=True)
    x = torch.randn(16, 64)
    flops = step_flops(lambda b: (b @ w).sum().backward(), x)
    assert flops == 2 * (2 * 16 * 64 * 32)  # the forward matmul and the gradient of w
    assert min(gemm_peak(repeats=1, seconds=0.05, n=128)) > 0


def test_article_steps_agree_on_flops_and_run():
    ref, batch = plain_article_dcgan_step()
    ours, _ = genforge_step("dcgan", "article")
    x = torch.rand(batch, 1, 28, 28) * 2 - 1
    assert step_flops(ref, x) == step_flops(ours, (x * 127.5 + 127.5).to(torch.uint8))  # the same mathematics
    rates = measure(genforge_step("vae", "article")[0], 8, torch.zeros(64, 1, 28, 28, dtype=torch.uint8), 2, 0.05)
    assert len(rates) == 2 and min(rates) > 0
    ops = profile_ops(ref, batch, x, steps=1)
    assert any("convolution" in name for name, _ in ops) and 0 < sum(s for _, s in ops) <= 1.0


def test_time_to_quality_evaluates_at_the_start_the_marks_and_the_end():
    assert marks_for(5) == [0, 30, 60, 120, 300]
    assert marks_for(1.5) == [0, 30, 60, 90]
    assert marks_for(1, every=25) == [0, 25, 50, 60]


def test_time_to_quality_report(tmp_path):
    curves = {
        "article": [(0, 60.0), (120, 40.0), (240, 30.0), (360, 25.0), (480, 20.0)],
        "default": [(0, 90.0), (30, 22.0), (60, 21.0)],
    }
    paths = []
    for arm, pts in curves.items():
        p = tmp_path / f"{arm}.json"
        p.write_text(
            json.dumps(
                {
                    "arm": arm,
                    "batch": 64,
                    "threads": 1,
                    "samples": 100,
                    "curve": [{"seconds": s, "steps": 0, "fid": f} for s, f in pts],
                }
            )
        )
        paths.append(str(p))
    assert first_reach(json.loads(open(paths[1]).read())["curve"], 25.0) == 30
    assert first_reach(json.loads(open(paths[1]).read())["curve"], 5.0) is None
    table = report(paths)
    assert "| 20 | 8.0 min | not reached |" in table and "| 40 | 2.0 min | 0.5 min |" in table


def test_text_throughput_table_runs_the_plain_loop_and_every_text_family(capsys):
    from genforge.bench.text import text_table, token_data, tokens_per_item

    x, vocab = token_data("no-such-text-source")  # the stand-in with the fortunes' length spread
    assert vocab == 4000 and 5 < tokens_per_item(x) < 49 and ((x == 3).sum(1) == 1).all()  # one EOS a row
    medians = text_table("no-such-text-source", repeats=1, seconds=0.01)
    out = capsys.readouterr().out
    assert "plain PyTorch sentence VAE" in out and "genforge text-vae `default`" in out and "genforge text-lm" in out
    assert "model.adaptive_softmax=true" in out  # the default with the adaptive output layer, beside it
    assert len(medians) == 5 and min(medians.values()) > 0


def test_server_load_test_answers_every_request(capsys):
    from genforge.bench.serve import main

    main(["--requests", "48", "--clients", "4", "--repeats", "1"])
    out = capsys.readouterr().out
    assert '"requests": 48, "errors": 0' in out and "| p99_ms |" in out


@pytest.mark.parametrize("k, p, op, side", [(5, 2, 1, 7), (3, 1, 1, 14), (4, 1, 0, 7), (3, 1, 0, 5), (4, 1, 1, 4)])
def test_subpixel_decomposition_computes_the_transposed_convolution(k, p, op, side):
    from genforge.bench.subpixel import SubpixelConvTranspose2d

    ref = torch.nn.ConvTranspose2d(6, 4, k, 2, p, output_padding=op)
    sub = SubpixelConvTranspose2d(6, 4, k, 2, p, output_padding=op)
    sub.load_state_dict(ref.state_dict())
    x = torch.randn(3, 6, side, side, requires_grad=True)
    a, b = ref(x), sub(x)
    assert a.shape == b.shape and torch.allclose(a, b, atol=1e-5)
    (ga,) = torch.autograd.grad(a.square().sum(), x)
    (gb,) = torch.autograd.grad(b.square().sum(), x)
    assert torch.allclose(ga, gb, atol=1e-4)


def test_plain_video_gan_loop_and_genforge_step_do_the_same_mathematics():
    from genforge.modalities.video.bench import CLIP, plain_videogan_step

    ref, batch = plain_videogan_step()
    ours, ours_batch = genforge_step("videogan", "default", shape=CLIP)
    clips = torch.randint(0, 256, (batch, CLIP[1], CLIP[0], *CLIP[2:]), dtype=torch.uint8)  # stored [N, T, C, H, W]
    assert batch == ours_batch
    # genforge's step adds only the EMA update (elementwise, not counted) to the same networks' passes
    assert step_flops(ref, clips) == step_flops(ours, clips) > 0
