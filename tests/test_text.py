"""Text as a modality: data sources and their errors, the tokenizer, sampling and writers, export,
evaluation figures that order known-good and known-bad text, the server and the report."""

import json
import subprocess
import sys

import pytest
import torch
import torch.nn.functional as F
from fastapi.testclient import TestClient

import genforge
from genforge.errors import ConfigError, DataError
from genforge.evaluate import evaluate_run, evaluate_samples, get_extractor
from genforge.evaluate.sanity import conditions, sanity_table
from genforge.modalities.text.lexicon import Lexicon
from genforge.modalities.text.metrics import invented_share
from genforge.modalities.text.modality import TextDataConfig
from genforge.modalities.text.sentence import SentenceDecoder, generate
from genforge.modalities.text.sources import lexicon
from genforge.modalities.text.textset import EOS, PAD, TOKENIZER_FILE, decode, load_text
from genforge.models import FAMILIES
from genforge.sample import export, interpolate_inputs, prior_samples, reconstructions, write_samples
from genforge.sample.sampling import set_options
from genforge.serve import create_app
from genforge.train import Trainer

from .conftest import stdlib_sentences, tiny_config

ZH = [
    "床前明月光，疑是地上霜。举头望明月，低头思故乡。",
    "白日依山尽，黄河入海流。欲穷千里目，更上一层楼。",
    "春眠不觉晓，处处闻啼鸟。夜来风雨声，花落知多少。",
    "红豆生南国，春来发几枝。愿君多采撷，此物最相思。",
    "千山鸟飞绝，万径人踪灭。孤舟蓑笠翁，独钓寒江雪。",
    "松下问童子，言师采药去。只在此山中，云深不知处。",
] * 4


def cfg(source, **kw):
    return TextDataConfig(source=str(source), vocab_size=kw.pop("vocab_size", 200), **kw)


def quiet():
    return {"progress": False, "log": lambda s: None}


@pytest.fixture(scope="module")
def vae_run(tmp_path_factory, text_data, text_folder):
    run = tmp_path_factory.mktemp("tvae") / "tvae"
    c = tiny_config(
        "text-vae",
        "train.steps=200",
        "model.conditional=true",
        "model.free_bits=0.1",
        "model.encoder_hidden=16",  # an encoder narrower than the decoder, as in the default preset
        source=str(text_folder),
    )
    Trainer(c, run, data=text_data, **quiet()).fit()
    return run


def test_separator_file_cleans_escapes_and_names_bad_utf8(tmp_path):
    f = tmp_path / "f.txt"
    f.write_bytes(
        "\x1b[32mgreen words\x1b[m here\n%\nline one\nline two\n%\n\n%\n".encode()
        + b"bad \xff byte\n%\n"
        + "last entry\tof all".encode()
    )
    data = load_text(cfg(f, separator="%", test_fraction=0.3))
    texts = data.train_text + data.test_text
    assert "green words here" in texts and "line one line two" in texts and "last entry of all" in texts
    assert (
        data.summary["cleaned"]["escape_sequences"] == 2 and data.summary["cleaned"]["empty_samples"] == 2
    )  # "" and the entry whose only line was bad
    assert data.problems == [(f"{f}:8", "line 8 is not valid UTF-8 (invalid start byte at byte 4)")]
    with pytest.raises(DataError, match=r"f.txt: line 8 is not valid UTF-8"):
        load_text(cfg(f, separator="%", strict=True))


def test_csv_and_jsonl_columns_and_their_errors(tmp_path):
    (tmp_path / "t.csv").write_text(
        "body,topic\n" + "".join(f"sentence number {i} is here,{i % 2}\n" for i in range(30))
    )
    data = load_text(cfg(tmp_path / "t.csv", text_column="body", label_column="topic"))
    assert data.class_names == ["0", "1"] and data.n_classes == 2 and len(data.train) + len(data.test) == 30
    with pytest.raises(DataError, match="no column 'text'.*body, topic"):
        load_text(cfg(tmp_path / "t.csv"))
    (tmp_path / "t.jsonl").write_text("\n".join(json.dumps({"text": f"a line {i}"}) for i in range(20)) + "\n{oops\n")
    data = load_text(cfg(tmp_path / "t.jsonl"))
    assert data.problems[0][0].endswith("t.jsonl:21") and "not a JSON object" in data.problems[0][1]


def test_too_long_samples_are_dropped_and_counted(tmp_path):
    long = [" ".join(f"word{i}x{j}" for j in range(40)) for i in range(5)]
    (tmp_path / "a.txt").write_text("\n".join(stdlib_sentences()["files"] + long) + "\n")
    data = load_text(cfg(tmp_path / "a.txt", max_tokens=24))
    kept = data.train_text + data.test_text
    assert data.summary["dropped_too_long"] >= 5 and not set(long) & set(kept)
    assert data.train.shape[1] == 25 and ((data.train == EOS).sum(1) == 1).all()  # one EOS per row


def test_tokenizer_keeps_chinese_characters_and_is_saved_with_the_run(tmp_path):
    (tmp_path / "zh.txt").write_text("\n".join(ZH))
    data = load_text(cfg(tmp_path / "zh.txt", vocab_size=400))
    assert decode(data.codec, data.tensor("test")) == data.test_text  # lossless: every character is covered
    assert load_text(cfg(tmp_path / "zh.txt", vocab_size=400)).fingerprint == data.fingerprint  # deterministic
    run = tmp_path / "run"
    Trainer(
        tiny_config("text-lm", "train.steps=2", source=str(tmp_path / "zh.txt"), preset=None), run, data=data, **quiet()
    ).fit()
    assert (run / TOKENIZER_FILE).read_bytes() == data.tokenizer_bytes
    assert all(isinstance(s, str) for s in prior_samples(genforge.load(run), 3)[0])


def test_the_spelling_constraint_leaves_no_word_the_training_text_lacks(text_data, tmp_path):
    known = lexicon(text_data.train_text, False)
    lex = Lexicon()
    lex.fit(text_data.codec, text_data.tensor("train"))
    torch.manual_seed(0)
    dec = SentenceDecoder(text_data.shape[0], 16, 16, 0)  # untrained: it joins pieces at random

    def share(spell):
        ids = generate(dec, None, 200, text_data.shape[1], 1.0, 1.0, torch.Generator().manual_seed(0), "cpu", spell)
        texts = decode(text_data.codec, ids)
        return invented_share(texts, known, False)["value"], len(set(texts))

    (free, _), (spelt, distinct) = share(None), share(lex.constraint(text_data.codec))
    assert free > 0.5 and spelt == 0 and distinct > 150, (free, spelt, distinct)
    (tmp_path / "zh.txt").write_text("\n".join(ZH))  # Chinese, written without spaces, gets no lexicon
    zh = load_text(cfg(tmp_path / "zh.txt", vocab_size=400))
    lex.fit(zh.codec, zh.tensor("train"))
    assert len(lex.words) == 0 and lex.constraint(zh.codec) is None


def test_a_run_keeps_its_lexicon_and_samples_its_words(vae_run, text_data, tmp_path):
    m = genforge.load(vae_run)
    known = lexicon(text_data.train_text, False)
    spelt = prior_samples(m, 200, seed=0)[0]
    set_options(m, ["model.known_words=false"])
    free = prior_samples(m, 200, seed=0)[0]
    assert invented_share(spelt, known, False)["value"] == 0 < invented_share(free, known, False)["value"]
    state = {k: v for k, v in m.state_dict().items() if k != "lexicon.words"}  # a run from before the lexicon
    fresh = FAMILIES.get("text-vae")(m.cfg, m.shape, m.n_classes)
    fresh.load_state_dict(state)
    assert len(fresh.lexicon.words) == 0 and fresh.lexicon.constraint(m.codec) is None


def test_sampling_is_seeded_and_greedy_is_deterministic(vae_run):
    m = genforge.load(vae_run)
    a, la = prior_samples(m, 8, seed=1)
    assert a == prior_samples(m, 8, seed=1)[0] and a != prior_samples(m, 8, seed=2)[0]
    assert la is not None and len(la) == 8  # conditional: labels drawn from the data's class mix
    set_options(m, ["model.temperature=0"])
    z = m.prior(4, torch.Generator().manual_seed(0))
    y = m.labels(4, label=0)
    assert torch.equal(
        m.decode(z, y, torch.Generator().manual_seed(1)), m.decode(z, y, torch.Generator().manual_seed(2))
    )
    with pytest.raises(ConfigError, match="model.temperature"):
        set_options(m, ["model.temperature=-1"])


def test_writers_escape_newlines_and_carry_labels(vae_run, tmp_path):
    m = genforge.load(vae_run)
    write_samples(m, ["a\nb", "c\\d"], tmp_path / "s.txt")
    assert (tmp_path / "s.txt").read_text() == "a\\nb\nc\\\\d\n"
    samples, labels = prior_samples(m, 3, label=1)
    write_samples(m, samples, tmp_path / "s.jsonl", labels=labels)
    rows = [json.loads(x) for x in (tmp_path / "s.jsonl").read_text().splitlines()]
    assert [r["label"] for r in rows] == ["numbers"] * 3 and rows[0]["text"] == samples[0]


def test_reconstruction_and_interpolation_between_sentences(vae_run, text_data):
    m = genforge.load(vae_run)
    assert (m.encoder.rnn.hidden_size, m.decoder.rnn.hidden_size) == (16, 32)  # model.encoder_hidden=16, saved
    pairs = reconstructions(m, 6, data=text_data)
    assert len(pairs) == 12 and pairs[0::2] == [t for t in pairs[0::2] if t in text_data.test_text]
    a, b = text_data.tensor("test")[:1], text_data.tensor("test")[1:2]
    path = interpolate_inputs(m, a, b, 5, label=0)
    assert len(path) == 5 and all(isinstance(s, str) for s in path)


@pytest.mark.parametrize("fmt", ["torchscript", "onnx"])
def test_exported_decoder_step_decodes_the_same_sentences(vae_run, tmp_path, fmt):
    m = genforge.load(vae_run)
    path = export(m, fmt, tmp_path / f"step.{'pt' if fmt == 'torchscript' else 'onnx'}")
    assert (tmp_path / TOKENIZER_FILE).is_file()  # the ids mean nothing without it
    z = m.prior(3, torch.Generator().manual_seed(0))
    y = torch.tensor([0, 1, 0])
    want = m.decode(z, y)  # greedy
    cond = torch.cat([z, torch.nn.functional.one_hot(y, 2).float()], 1)
    if fmt == "torchscript":
        net = torch.jit.load(str(path))

        def step(t, h):
            return net(t, h, cond)
    else:
        import onnxruntime as ort

        sess = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])

        def step(t, h):
            feed = {"token": t.numpy(), "h": h.numpy(), "cond": cond.numpy()}
            return tuple(torch.from_numpy(v) for v in sess.run(None, feed))

    tok, h, out = torch.full((3,), 2), torch.zeros(1, 3, m.cfg.hidden), []
    for _ in range(want.shape[1] - 1):
        logits, h = step(tok, h)
        logits[:, :3] = -float("inf")  # never PAD, UNK, BOS
        tok = logits.argmax(1)
        out.append(tok)
    got = torch.stack(out, 1)
    for row_w, row_g in zip(want, got):
        n = int((row_w != PAD).sum())
        assert torch.equal(row_w[: n - 1], row_g[: n - 1]), (row_w, row_g)


@pytest.mark.integration
def test_text_figures_order_known_good_and_bad_text(text_data):
    rows = sanity_table(text_data, n=150, extractor_steps=60, log=None)  # every ordering holds with a wide margin
    floor, shuffled, rand = rows["real (floor)"], rows["shuffled words"], rows["random dictionary words"]
    assert floor["fd"] < shuffled["fd"] < rand["fd"]
    assert rows["one class only"]["recall"] < floor["recall"]
    assert rows["training lines"]["near_copy_share"] > 0.9 > 0.2 > floor["near_copy_share"]
    assert rows["one sentence repeated"]["distinct_2"] < 0.05 < floor["distinct_2"]
    assert rows["one sentence repeated"]["self_bleu"] > 90 > floor["self_bleu"]
    # fluency under an LM of the data, and coverage of the data by an LM of the samples
    assert min(rand["forward_ppl"], shuffled["forward_ppl"]) > floor["forward_ppl"]
    assert rows["one sentence repeated"]["reverse_ppl"] > floor["reverse_ppl"]
    # spelling: typos are invented words, shuffled real words are not
    assert rows["misspelt words"]["invented_words"] > 0.3 > 0.1 > floor["invented_words"]  # words of 4+ letters
    assert shuffled["invented_words"] == pytest.approx(floor["invented_words"], abs=0.01)
    assert set(conditions(text_data, 10)) == set(rows)


@pytest.mark.integration
def test_evaluate_text_run_writes_every_figure_beside_its_floor(vae_run, text_data):
    res = evaluate_run(vae_run, n_samples=120, iwae_k=2, extractor_steps=100, log=lambda s: None)
    m = res["metrics"]
    for name in (
        "fd",
        "precision",
        "recall",
        "distinct_1",
        "distinct_2",
        "self_bleu",
        "near_copy_share",
        "class_agreement",
        "nll_iw",
        "perplexity",
        "kl",
        "mutual_info",
        "active_units",
        "forward_ppl",
        "reverse_ppl",
    ):
        assert name in m, name
    assert "floor" in m["fd"] and "floor" in m["distinct_2"] and "floor" in m["near_copy_share"]
    assert m["kl"]["value"] > 0.5 and m["active_units"]["value"] >= 1  # free bits keep the latent in use
    # an LM of the data finds held-out text likelier than a 200-step model's samples
    assert m["forward_ppl"]["floor"] < m["forward_ppl"]["value"]
    assert 1 < m["perplexity"]["value"] < text_data.vocab_size
    with pytest.raises(ConfigError, match="samples are shaped"):
        evaluate_samples(torch.zeros(20, 7, dtype=torch.long), text_data, get_extractor(text_data, steps=100, log=None))


def test_server_answers_text(vae_run):
    client = TestClient(create_app([vae_run]))
    info = client.get("/api/models").json()["tvae"]
    assert info["modality"] == "text" and "reconstruct" in info["abilities"]
    r = client.get("/api/tvae/generate", params={"n": 3, "seed": 2, "temperature": 0.7})
    assert r.status_code == 200 and len(r.json()["texts"]) == 3 and len(r.json()["labels"]) == 3
    assert r.json() == client.get("/api/tvae/generate", params={"n": 3, "seed": 2, "temperature": 0.7}).json()
    assert client.get("/api/tvae/generate", params={"format": "txt"}).text.count("\n") == 16
    path = client.get("/api/tvae/between", params={"a": "Return the sine of x.", "b": "Open a file.", "class": 0})
    assert path.status_code == 200 and len(path.json()["texts"]) == 7
    rec = client.post("/api/tvae/reconstruct", params={"class": "files"}, content=b"Return the path of a file.")
    assert rec.status_code == 200 and rec.json()["texts"][0] == "Return the path of a file."
    bad = client.get("/api/tvae/generate", params={"format": "png"})
    assert bad.status_code == 422 and "not served for text" in bad.text
    assert client.get("/api/tvae/traverse").status_code == 400


def test_report_of_a_text_run(vae_run):
    from genforge.report import write_report

    page = write_report(vae_run).read_text()
    for part in ("id='scenario'", "length histograms", "class='texts'", "id='latent'", "path between"):
        assert part in page, part


@pytest.mark.integration
def test_cli_inspects_and_samples_text(vae_run, text_folder, tmp_path):
    gf = [sys.executable, "-m", "genforge"]
    r = subprocess.run(
        [*gf, "data", "inspect", str(text_folder), "--set", "data.vocab_size=300"], capture_output=True, text=True
    )
    assert r.returncode == 0 and "vocabulary" in r.stdout and "files" in r.stdout, r.stderr
    out = tmp_path / "s.jsonl"
    r = subprocess.run(
        [*gf, "sample", str(vae_run), "-n", "4", "--class", "numbers", "--temperature", "0.8", "--out", str(out)],
        capture_output=True,
        text=True,
    )
    assert r.returncode == 0 and len(out.read_text().splitlines()) == 4, r.stderr
    r = subprocess.run([*gf, "sample", str(vae_run), "--top-p", "2"], capture_output=True, text=True)
    assert r.returncode == 2 and "model.top_p" in r.stderr and "Traceback" not in r.stderr


def test_decoder_nll_skips_padding_without_changing_the_numbers(text_data):
    from genforge.modalities.text.sentence import SentenceDecoder, shift_right

    torch.manual_seed(0)
    dec = SentenceDecoder(text_data.vocab_size, 16, 16, 4).eval()
    x, cond = text_data.tensor("train")[:32], torch.randn(32, 4)
    logits, _ = dec(shift_right(x), cond)  # every position, padding included
    full = F.cross_entropy(logits.transpose(1, 2), x, reduction="none", ignore_index=PAD).sum(1)
    assert torch.allclose(dec.nll(x, cond), full, atol=1e-4)


def test_samples_files_round_trip_and_evaluate_against_a_source(text_data, text_folder, tmp_path):
    from genforge.evaluate import evaluate_files
    from genforge.modalities import MODALITIES

    text = MODALITIES.get("text")
    texts, labels = text_data.test_text[:30], text_data.test_labels[:30]
    text.write(texts, tmp_path / "s.jsonl", labels, class_names=text_data.class_names)
    stored, got = text.read(tmp_path / "s.jsonl", text_data)
    assert torch.equal(stored, text_data.tensor("test")[:30]) and got.tolist() == labels.tolist()
    text.write(["Return one line.", "Open\na file."], tmp_path / "s.txt")  # a newline is escaped, then cleaned
    assert decode(text_data.codec, text.read(tmp_path / "s.txt", text_data)[0]) == ["Return one line.", "Open a file."]
    # a sample longer than the data's window (a model's sample spelt anew can be) is cut to it, not refused
    text.write(["Open a file " * 30], tmp_path / "long.txt")
    (cut,) = decode(text_data.codec, text.read(tmp_path / "long.txt", text_data)[0])
    assert "Open a file " * 30 != cut and ("Open a file " * 30).startswith(cut) and len(cut) > 40
    res = evaluate_files(
        str(text_folder), tmp_path / "s.jsonl", metrics="distinct,class_agreement", log=None, extractor_steps=60
    )
    assert res["metrics"]["distinct_1"]["floor"] > 0 and "class_agreement" in res["metrics"]
    (tmp_path / "bad.jsonl").write_text('{"txt": "no text key"}\n')
    with pytest.raises(DataError, match="bad.jsonl: expected one JSON object with a 'text' key"):
        text.read(tmp_path / "bad.jsonl", text_data)


@pytest.mark.integration
def test_tune_a_text_vae_on_held_out_nll(text_folder, tmp_path):
    from genforge.tune import tune

    data_cfg = cfg(text_folder, vocab_size=400, max_tokens=24)
    kw = {
        "trials": 2,
        "steps_per_trial": 20,
        "out_root": tmp_path,
        "n_eval": 100,
        "extractor_steps": 30,
        "confirm_seeds": 1,
        "sets": ("model.embed=32", "model.hidden=32", "model.latent_dim=8"),
        "log": lambda s: None,
    }
    summary = tune("text-vae", data_cfg, study_name="t", objective="nll_iw", **kw)
    assert summary["objective"] == "nll_iw" and 0 < summary["best"]["value"] < 1000
    assert (tmp_path / "t" / "best" / TOKENIZER_FILE).is_file()
    with pytest.raises(ConfigError, match="lower is better"):
        tune("text-vae", data_cfg, study_name="u", objective="recall", **kw)


def test_a_text_vae_with_the_fitted_prior_draws_codes_where_the_training_sentences_are(
    text_data, text_folder, tmp_path
):
    """model.prior=gmm: the mixture is fitted to draws from the training sentences' posteriors when training ends
    and saved with the run; --set model.prior=normal draws N(0, I) from the same run; a run without a mixture
    refuses gmm."""
    cfg = tiny_config(
        "text-vae", "model.prior=gmm", "model.prior_components=4", "train.steps=150", source=str(text_folder)
    )
    Trainer(cfg, tmp_path / "gmm", data=text_data, **quiet()).fit()
    m = genforge.load(tmp_path / "gmm")
    with torch.no_grad():
        mu, logvar = m.encode(text_data.tensor("train"))
    g = torch.Generator().manual_seed(3)
    drawn = lambda: mu + (0.5 * logvar).exp() * torch.randn(mu.shape, generator=g)  # noqa: E731  q(z|x) draws
    codes, fresh = drawn(), drawn()  # the aggregate posterior, twice
    gap = lambda z: torch.cdist(z, codes).min(1).values.median()  # noqa: E731  distance to the nearest code
    fitted = m.prior(len(mu), torch.Generator().manual_seed(2))
    assert torch.equal(fitted, m.prior(len(mu), torch.Generator().manual_seed(2)))  # seeded
    set_options(m, ["model.prior=normal"])
    normal = m.prior(len(mu), torch.Generator().manual_seed(2))
    # the mixture draws codes as the aggregate posterior does: as near to one set of posterior draws as another
    # set of them is (N(0, I): 1.4 times as far here)
    assert gap(fitted) < 1.1 * gap(fresh) and gap(fitted) < 0.8 * gap(normal), (gap(fitted), gap(fresh), gap(normal))
    assert torch.equal(genforge.load(tmp_path / "gmm").prior(len(mu), torch.Generator().manual_seed(2)), fitted)
    Trainer(
        tiny_config("text-vae", "train.steps=2", "model.prior=normal", source=str(text_folder)),
        tmp_path / "n",
        data=text_data,
        **quiet(),
    ).fit()
    no_mixture = genforge.load(tmp_path / "n")
    set_options(no_mixture, ["model.prior=gmm"])
    with pytest.raises(ConfigError, match="no fitted mixture"):
        no_mixture.prior(4)


def test_a_run_is_judged_on_its_samples_text_not_on_the_pieces_it_spelt_it_with(vae_run, text_data):
    """A model may spell a sentence with other pieces than the tokenizer's own: the reader gets the same text,
    the evaluator's network learnt the tokenizer's spellings. Evaluation re-reads the samples, as a samples file
    of them reads back."""
    from genforge.evaluate import eval_samples
    from genforge.modalities import MODALITIES

    text, tok = MODALITIES.get("text"), text_data.codec
    test = text_data.tensor("test")
    canonical = test[(test != PAD).sum(1) <= 10][:8]  # short: room for a longer spelling
    sentences = decode(tok, canonical)
    # the same sentences spelt with the tokenizer's sampled (non-canonical) segmentations
    spelt = [tok.encode(s, enable_sampling=True, alpha=0.5, nbest_size=-1) for s in sentences]
    odd = torch.zeros_like(canonical)
    for row, p in enumerate(spelt):
        odd[row, : len(p)], odd[row, len(p)] = torch.tensor(p), EOS
    assert not torch.equal(odd, canonical) and decode(tok, odd) == sentences
    assert torch.equal(text.reread(odd, tok), canonical)
    model = genforge.load(vae_run)
    ids, _ = eval_samples(model, 64)
    assert torch.equal(ids, text.reread(ids, model.codec))  # what is judged is what reads back


def test_an_adaptive_softmax_decoder_samples_from_the_distribution_it_is_trained_on(text_data, text_folder, tmp_path):
    """model.adaptive_softmax: the step's logits are a normalised distribution over every piece, the teacher-forced
    NLL is the sum of those same log-probabilities at the targets, and a tiny run learns."""
    from genforge.modalities.text.sentence import SentenceDecoder, shift_right

    torch.manual_seed(0)
    dec = SentenceDecoder(text_data.vocab_size, 16, 32, 0, adaptive=True).eval()
    x = text_data.tensor("test")[:16]
    logits, _ = dec(shift_right(x))  # [B, L, V]
    assert torch.allclose(logits.logsumexp(-1), torch.zeros(logits.shape[:2]), atol=1e-5)
    mask = x != PAD
    by_step = -(logits.log_softmax(-1).gather(2, x[:, :, None])[..., 0] * mask).sum(1)
    assert torch.allclose(dec.nll(x), by_step, atol=1e-3)
    c = tiny_config("text-lm", "train.steps=120", "model.adaptive_softmax=true", source=str(text_folder))
    tr = Trainer(c, tmp_path / "a", data=text_data, **quiet())
    before = float(tr.model.held_out_loss(text_data.tensor("test")))
    tr.fit()
    assert float(tr.model.eval().held_out_loss(text_data.tensor("test"))) < before - 10  # nats per sentence
    assert len(prior_samples(genforge.load(tmp_path / "a"), 4)[0]) == 4
