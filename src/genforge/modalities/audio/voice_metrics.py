"""Figures of a voice model (the `voice` ability): is the voice kept, are the words kept, are new voices new?

Every figure is read against real held-out clips of speakers neither the model nor the verifier trained on:

    voice_eer          pairs of generated clips, same asked voice against different ones: the verifier's equal
                       error rate (floor: its EER on held-out real clips), each set scored less its own mean
    conversion_voice   held-out clips converted to another held-out speaker's voice (taken from up to five of that
                       speaker's clips, as `--voice-from`): the share the verifier puts closer to the target voice
                       than to the source voice (floor: real clips of the target speaker; beside the identity, no
                       conversion, and the nearest training voice to the target)
    conversion_words   the speech recogniser's agreement on those conversions (floor: on the source clips; also
                       as a ratio to it)
    new_voice_distance a new voice's verifier distance (1 - cosine) to the nearest training speaker (floor: a
                       held-out real speaker's; new voices at least as far are new; beside it, training voices
                       as the model renders them: how far rendering alone moves a voice)
    voice_words        the recogniser's agreement on new voices saying each word (floor: held-out real clips)
"""

from __future__ import annotations

from typing import Optional, Sequence

import numpy as np
import torch

from ...evaluate.registry import register_metric
from .dsp import resample
from .speech import RATE, heard, recogniser
from .verifier import equal_error_rate, pair_scores, verifier_for

FIGURES = {
    "voice_eer": ("lower", "equal error rate of the verifier on pairs of generated clips by asked voice"),
    "conversion_voice": ("higher", "share of conversions the verifier puts nearer the target voice than the source"),
    "conversion_words": ("higher", "speech recogniser agreement on conversions of held-out clips"),
    "new_voice_distance": ("higher", "verifier distance of a new voice to the nearest training speaker"),
    "voice_words": ("higher", "speech recogniser agreement on new voices saying each word"),
}
for _name, (_better, _help) in FIGURES.items():
    register_metric(
        _name, modalities=("audio",), needs=("voice",), better=_better, floor=False, help=_help + " (voice models)"
    )(None)
REFERENCE_CLIPS = 5  # clips of a target speaker a voice is taken from
NEW_VOICES = 20


def word_agreement(clips: torch.Tensor, labels: torch.Tensor, class_names, rate: int) -> Optional[float]:
    """Share of clips [N, 1, T] in [-1, 1] the recogniser hears as their class; None when the class names are
    not words it knows."""
    words = tuple(str(n).lower() for n in class_names or [])
    dec = recogniser(words) if len(words) >= 2 else None
    if dec is None:
        return None
    pcm = np.clip(resample(clips[:, 0].float().cpu().numpy(), rate, RATE), -1, 1) * 32767
    said = heard(dec, pcm)
    return float(np.mean([s == words[int(i)] for s, i in zip(said, labels.tolist())]))


def _centroid(emb: torch.Tensor) -> torch.Tensor:
    return torch.nn.functional.normalize(emb.mean(0), dim=0)


def by_speaker(who: list[str]) -> dict[str, torch.Tensor]:
    """Each speaker's positions [k] among clips of speakers `who`, in sorted order of the speakers."""
    return {s: torch.tensor([i for i, w in enumerate(who) if w == s]) for s in sorted(set(who))}


@torch.no_grad()
def voice_figures(model, data, names: Sequence[str], n: int = 200, seed: int = 0) -> dict:
    """The figures of `names` (FIGURES) for a voice model on `data`'s held-out speakers; each {"value", "floor",
    ...}. {} when none is asked for or the data names no speakers."""
    asked = [k for k in FIGURES if k in names]
    if not asked or data.test_speakers is None or len(set(data.test_speakers)) < 2:
        return {}
    g = torch.Generator().manual_seed(seed)
    ver = verifier_for(data)
    test = data.tensor("test").float() / 32768.0  # [N, 1, T] model form
    labels, who = data.labels("test"), list(data.test_speakers)
    raw = ver.raw(test)
    emb = ver.unit(raw)
    mine = by_speaker(who)
    out: dict = {}
    if {"voice_eer", "voice_words", "new_voice_distance"} & set(asked):
        out |= _new_voices(model, data, ver, test, labels, raw, emb, who, asked, n, g)
    if {"conversion_voice", "conversion_words"} & set(asked):
        out |= _conversions(model, data, ver, test, labels, who, emb, mine, asked, n, g)
    for fig in out.values():
        fig["note"] = ", ".join(f"{k} {fig[k]:.3g}" for k in ("identity", "nearest", "named", "ratio") if k in fig)
    return out


def _new_voices(model, data, ver, test, labels, raw, emb, who, asked, n, g) -> dict:
    """The figures of new voices, each saying every word once (`voice_eer`, `voice_words`,
    `new_voice_distance`)."""
    out = {}
    k = max(data.n_classes, 1)
    words = torch.arange(k).repeat(NEW_VOICES)
    clips = model.speak(model.new_voices(NEW_VOICES, g).repeat_interleave(k, 0), words, g).cpu()
    new_raw = ver.raw(clips)
    if "voice_eer" in asked:
        # the floor: pairs among held-out clips, scored as the generated pairs are (less their own mean)
        floor = equal_error_rate(*pair_scores(ver.unit(raw, own_centre=True), who))
        s2, d2 = pair_scores(ver.unit(new_raw, own_centre=True), [str(i // k) for i in range(len(clips))])
        out["voice_eer"] = {"value": equal_error_rate(s2, d2), "floor": floor, "n": len(clips)}
    if "voice_words" in asked and data.n_classes:
        got = word_agreement(clips, words, data.class_names, data.sample_rate)
        real = word_agreement(test[:n], labels[:n], data.class_names, data.sample_rate)
        if got is not None:
            out["voice_words"] = {"value": got, "floor": real, "ratio": got / max(real, 1e-9), "n": len(clips)}
    if "new_voice_distance" in asked:
        # the same words in training voices: how far the model's rendering alone moves a voice it knows
        known = model.voices[: min(NEW_VOICES, len(model.voice_names()))]
        named = model.speak(known.repeat_interleave(k, 0), torch.arange(k).repeat(len(known)), g).cpu()
        new_emb, named_emb = ver.unit(new_raw).split(k), ver.embed(named).split(k)
        out["new_voice_distance"] = _novelty(data, ver, emb, who, new_emb, named_emb)
    return out


def _novelty(data, ver, emb, who, new_emb, named_emb) -> dict:
    """New voices' distance to the nearest training speaker, beside held-out speakers' (the floor) and training
    voices rendered by the model (`named`); verifier centroids of each voice's clips (`new_emb`, `named_emb`:
    [k, E] a voice) or of a real speaker's held-out clips."""
    t_emb = ver.embed(data.tensor("train").float() / 32768.0)
    centres = torch.stack([_centroid(t_emb[i]) for i in by_speaker(data.train_speakers).values()])
    new, named = (torch.stack([_centroid(e) for e in group]) for group in (new_emb, named_emb))
    held = torch.stack([_centroid(emb[i]) for i in by_speaker(who).values()])
    dist = lambda c: (1 - (c @ centres.T).max(1).values).median().item()  # noqa: E731
    return {"value": dist(new), "floor": dist(held), "named": dist(named), "n": len(new)}


def pairs(who: list[str], mine: dict, n: int, g) -> tuple[list[int], list[str]]:
    """n held-out clips (positions) and, for each, a target speaker other than its own."""
    src = torch.randperm(len(who), generator=g)[:n].tolist()
    targets = []
    for i in src:
        others = [s for s in sorted(mine) if s != who[i]]
        targets.append(others[int(torch.randint(len(others), (), generator=g))])
    return src, targets


def moved_share(e: torch.Tensor, src: list[int], targets: list[str], who: list[str], emb, mine, skip=None) -> float:
    """Share of judged clips (embeddings e [n, E], one a pair) nearer the target speaker's centroid than the
    source speaker's; each centroid of the held-out embeddings `emb` leaves out the clip judged (`skip`: the
    positions of the judged clips where they are held-out clips themselves, else the sources')."""

    def centre(s, leave):
        return _centroid(emb[[j for j in mine[s].tolist() if j != leave]])

    skip = src if skip is None else skip
    return float(np.mean([float(e[k] @ centre(t, skip[k])) > float(e[k] @ centre(who[i], skip[k]))
                          for k, (i, t) in enumerate(zip(src, targets))]))  # fmt: skip


def real_targets(src: list[int], targets: list[str], labels, mine) -> list[int]:
    """For each pair, a real clip of the target speaker saying the source's word (any of theirs if none does)."""
    real = []
    for i, t in zip(src, targets):
        same_word = [j for j in mine[t].tolist() if labels is None or labels[j] == labels[i]]
        real.append(same_word[0] if same_word else int(mine[t][0]))
    return real


def _conversions(model, data, ver, test, labels, who, emb, mine, asked, n, g) -> dict:
    """Held-out clips converted to another held-out speaker's voice, beside the identity and the nearest
    training voice."""
    src, targets = pairs(who, mine, n, g)
    refs = {s: mine[s][torch.randperm(len(mine[s]), generator=g)[:REFERENCE_CLIPS]] for s in sorted(set(targets))}
    voice = {s: model.voice_of(test[refs[s]]) for s in refs}
    table = model.voices[: len(model.voice_names())]
    nearest = {s: table[((table - v) ** 2).sum(1).argmin()] for s, v in voice.items()}
    x = test[src]
    converted = model.convert(x, torch.stack([voice[s] for s in targets])).cpu()
    near = model.convert(x, torch.stack([nearest[s] for s in targets])).cpu()
    out = {}
    if "conversion_voice" in asked:
        real = real_targets(src, targets, labels, mine)
        out["conversion_voice"] = {
            "value": moved_share(ver.embed(converted), src, targets, who, emb, mine),
            "floor": moved_share(emb[real], src, targets, who, emb, mine, skip=real),
            "identity": moved_share(emb[src], src, targets, who, emb, mine),
            "nearest": moved_share(ver.embed(near), src, targets, who, emb, mine),
            "n": len(src),
        }
    if "conversion_words" in asked and labels is not None:
        y = labels[src]
        got = word_agreement(converted, y, data.class_names, data.sample_rate)
        if got is not None:
            base = word_agreement(x, y, data.class_names, data.sample_rate)
            out["conversion_words"] = {
                "value": got,
                "floor": base,
                "identity": base,
                "nearest": word_agreement(near, y, data.class_names, data.sample_rate),
                "ratio": got / max(base, 1e-9),
                "n": len(src),
            }
    return out
