"""Dialog: pairs read from every layout with bad rows named, a split by conversation, the matching model,
answers on the CLI, the server and the page, a user's CSV that trains, answers and evaluates."""

import json
import os
import subprocess
import sys

import pytest
import torch

pytest.importorskip("chatterbot_corpus", reason="the dialog extra: pip install 'genforge[dialog]'")

from genforge.errors import DataError  # noqa: E402
from genforge.modalities.dialog.matching import recall_at_1, train_matcher  # noqa: E402
from genforge.modalities.dialog.modality import DialogModality, Exchange  # noqa: E402
from genforge.modalities.dialog.pairset import DialogDataConfig, load_dialog  # noqa: E402
from genforge.train import Trainer  # noqa: E402

from .conftest import tiny_config  # noqa: E402

PAIRS = [(f"How do I fix error {i}?", f"Restart the service and check log {i}.", "tech") for i in range(30)] + [
    (f"What is your favourite colour {i}?", f"I like the colour number {i}.", "chat") for i in range(30)
]


def write_csv(path, rows):
    body = "question,answer,category\n" + "".join(f'"{q}","{a}",{c}\n' for q, a, c in rows)
    path.write_text(body)
    return path


@pytest.fixture(scope="module")
def pair_csv(tmp_path_factory):
    return write_csv(tmp_path_factory.mktemp("pairs") / "pairs.csv", PAIRS)


@pytest.fixture(scope="module")
def cvae_run(dialog_data, tmp_path_factory):
    run = tmp_path_factory.mktemp("dialog") / "cvae"
    cfg = tiny_config("dialog-cvae", "train.steps=30", source="conversations")
    Trainer(cfg, run, data=dialog_data, progress=False, log=lambda s: None).fit()
    return run


def cfg(source, **kw):
    return DialogDataConfig(source=str(source), vocab_size=100, **kw)


def test_a_table_of_pairs_names_its_bad_rows(tmp_path):
    csv = write_csv(tmp_path / "p.csv", PAIRS + [("", "an answer to nothing", "chat")])
    data = load_dialog(cfg(csv))
    assert len(data.train) + len(data.test) == 60 and data.class_names == ["chat", "tech"]
    assert any(where.endswith("p.csv:62") and "question is empty" in why for where, why in data.problems)
    jsonl = tmp_path / "p.jsonl"
    rows = [json.dumps({"question": q, "answer": a}) for q, a, _ in PAIRS]
    jsonl.write_text("\n".join(rows[:3] + ["{not json", '["a list"]', json.dumps({"question": "no answer"})] + rows))
    data = load_dialog(cfg(jsonl))
    problems = dict(data.problems)
    assert "not a JSON object" in problems[f"{jsonl}:4"] and "expected a JSON object" in problems[f"{jsonl}:5"]
    assert "answer is missing" in problems[f"{jsonl}:6"]
    assert data.summary["repeated_pairs_dropped"] == 3  # the first three rows come twice
    with pytest.raises(DataError, match=r"p\.jsonl:4"):
        load_dialog(cfg(jsonl, strict=True))


def test_a_folder_of_yaml_reads_conversations_and_names_bad_ones(tmp_path):
    folder = tmp_path / "corpus"
    folder.mkdir()
    turns = "".join(f"- - Hello number {i}\n  - Hi there {i}\n  - How are you {i}\n" for i in range(20))
    (folder / "greet.yml").write_text(f"categories:\n- greetings\nconversations:\n{turns}- - alone\n")
    (folder / "broken.yml").write_text("conversations: [unclosed\n")
    data = load_dialog(cfg(folder))
    assert len(data.train) + len(data.test) == 40  # two pairs a conversation of three turns
    assert data.class_names is None or data.class_names == ["greetings"]
    problems = dict(data.problems)
    assert "at least two turns" in problems[f"{folder / 'greet.yml'}:conversation 21"]
    assert "not a YAML file" in problems[str(folder / "broken.yml")]


def test_conversations_are_split_whole_and_repeats_dropped(dialog_data):
    from genforge.modalities.dialog.pairset import conversation_split, dedupe
    from genforge.modalities.dialog.sources import load_conversations

    raw = load_conversations("conversations", DialogDataConfig())
    keep, repeats, repeated = dedupe(raw)
    assert repeats > 1000 and repeated >= 10  # the tech-support file repeats its 10 pairs about 105 times each
    train, test, split = conversation_split(raw, keep, DialogDataConfig(test_fraction=0.3))
    conv = torch.tensor(raw.conversations)
    assert "by conversation" in split and len(test) > 100
    assert not set(conv[train].tolist()) & set(conv[test].tolist())  # no conversation on both sides
    assert 200 < len(dialog_data.train) <= 300 and dialog_data.train.shape[1:] == (2, 41)  # long pairs dropped
    train_q = {q for q, _ in dialog_data.train_pairs}
    assert dialog_data.summary["test_questions_in_train"] == sum(q in train_q for q, _ in dialog_data.test_pairs)


def test_the_matching_model_ranks_real_answers_above_shuffled_ones(dialog_data):
    full = load_dialog(DialogDataConfig())  # all the training pairs: 300 are too few to generalise from
    model = train_matcher(full.tensor("train"), full.vocab_size, steps=600)
    test = full.tensor("test")
    shuffled = torch.stack([test[:, 0], test[torch.roll(torch.arange(len(test)), 7), 1]], 1)
    real = float(recall_at_1(model, test, test).mean())
    assert real > float(recall_at_1(model, shuffled, test).mean()) + 0.05 and real > 0.1  # chance: 0.05


def test_samples_round_trip_through_their_files(dialog_data, tmp_path):
    mod = DialogModality()
    stored = dialog_data.tensor("test")[:5]
    samples = mod.to_samples(stored, dialog_data.codec)
    assert isinstance(samples[0], Exchange) and samples[0].question == dialog_data.test_pairs[0][0]
    for suffix in (".jsonl", ".txt"):
        path = mod.write(samples, tmp_path / f"s{suffix}")
        back, _ = mod.read(path, dialog_data)
        assert mod.to_samples(back, dialog_data.codec) == samples
        assert [s.question for s in mod.to_samples(back, dialog_data.codec)] == [s.question for s in samples]


def gf(*args):
    return subprocess.run([sys.executable, "-m", "genforge", *map(str, args)], capture_output=True, text=True,
                          env=os.environ | {"GENFORGE_CACHE": os.environ["GENFORGE_CACHE"]})  # fmt: skip


@pytest.mark.integration
def test_answer_on_the_cli_and_for_a_file_of_questions(cvae_run, tmp_path):
    r = gf("answer", cvae_run, "How do I reset my password?", "What is AI?", "-n", "3", "--json")
    assert r.returncode == 0, r.stderr
    rows = [json.loads(x) for x in r.stdout.splitlines()]
    assert [x["question"] for x in rows] == ["How do I reset my password?", "What is AI?"]
    assert all(len(x["answers"]) == 3 and len(set(x["answers"])) > 1 for x in rows)  # different answers
    (tmp_path / "q.txt").write_text("What is AI?\n\nHello\n")
    r = gf("sample", cvae_run, "--input", tmp_path / "q.txt", "-n", "2", "--out", tmp_path / "a.jsonl")
    assert r.returncode == 0, r.stderr
    lines = [json.loads(x) for x in (tmp_path / "a.jsonl").read_text().splitlines()]
    assert [x["question"] for x in lines] == ["What is AI?"] * 2 + ["Hello"] * 2
    r = gf("answer", cvae_run, "   ")
    assert r.returncode != 0 and "question 1 is empty" in r.stderr


@pytest.mark.integration
def test_answer_on_the_server(cvae_run):
    from fastapi.testclient import TestClient

    from genforge.serve.app import create_app

    client = TestClient(create_app([cvae_run]))
    r = client.post(f"/api/{cvae_run.name}/answer", json={"question": "What is AI?", "n": 4, "seed": 3})
    assert r.status_code == 200 and r.json()["question"] == "What is AI?" and len(r.json()["answers"]) == 4
    again = client.post(f"/api/{cvae_run.name}/answer", json={"question": "What is AI?", "n": 4, "seed": 3})
    assert again.json() == r.json()  # same seed, same answers
    bad = client.post(f"/api/{cvae_run.name}/answer", json={"question": " "})
    assert bad.status_code == 422 and "empty" in bad.text
    pairs = client.get(f"/api/{cvae_run.name}/generate", params={"n": 3}).json()["pairs"]
    assert len(pairs) == 3 and all(p["question"] for p in pairs)


@pytest.mark.integration
def test_a_users_csv_of_pairs_trains_answers_and_evaluates(pair_csv, tmp_path):
    import genforge
    from genforge.evaluate.evaluate import evaluate_run
    from genforge.sample.answers import answers

    run = tmp_path / "run"
    conf = tiny_config("dialog-cvae", "train.steps=60", "data.vocab_size=100", source=str(pair_csv))
    Trainer(conf, run, progress=False, log=lambda s: None).fit()  # the trainer reads the CSV
    rows = answers(genforge.load(run), ["How do I fix error 3?"], n=2)
    assert len(rows[0]["answers"]) == 2
    result = evaluate_run(run, n_samples=20, metrics="relevance,distinct,length_gap", log=lambda s: None,
                          extractor_steps=50)  # fmt: skip
    figs = result["metrics"]
    assert {"r_at_1", "distinct_1", "length_gap"} <= set(figs) and "floor" in figs["r_at_1"]


@pytest.mark.integration
@pytest.mark.skipif(not os.path.exists("/usr/bin/chromium"), reason="Debian's chromium is not installed")
def test_the_page_chat_panel_answers(cvae_run):
    from genforge.serve.app import create_app

    from .test_serve import browser_on

    with browser_on(create_app([cvae_run])) as (page, url):
        page.goto(url)
        page.wait_for_function("document.querySelectorAll('#pairs dd').length === 16")
        page.fill("#question", "What is AI?")
        page.fill("#answers_n", "3")
        page.click("#ask")
        page.wait_for_function("document.querySelectorAll('#answers li').length === 3")


@pytest.mark.integration
def test_the_report_shows_questions_beside_their_answers(cvae_run):
    from genforge.report import write_report

    page = write_report(cvae_run).read_text()
    assert page.count("<th>question</th><th>answer</th>") >= 2  # the held-out rows and the samples
