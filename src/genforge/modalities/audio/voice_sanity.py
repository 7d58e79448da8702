"""The voice figures' sanity table: what each yardstick gives on real held-out clips and on clips that must fail.

python -m genforge.modalities.audio.voice_sanity --data spoken-digits
"""

from __future__ import annotations

import argparse
from typing import Optional

import torch

from .modality import AudioDataConfig
from .sources import load_audio
from .verifier import equal_error_rate, pair_scores, verifier_for
from .voice_metrics import by_speaker, moved_share, pairs, real_targets, word_agreement


@torch.no_grad()
def voice_sanity(data, n: int = 200, seed: int = 0) -> dict[str, dict]:
    """The voice figures' yardsticks on real held-out clips, with what each must catch: {row: {figure: value}}.
    Real clips give the floors; shuffled speaker labels must send the verifier's EER to 0.5; shuffled words must
    send the recogniser's agreement to chance; one voice for every target must move few clips to their target."""
    g = torch.Generator().manual_seed(seed)
    ver = verifier_for(data)
    test = data.tensor("test").float() / 32768.0
    labels, who = data.labels("test"), list(data.test_speakers)
    raw = ver.raw(test)
    emb, own = ver.unit(raw), ver.unit(raw, own_centre=True)
    mine = by_speaker(who)
    src, targets = pairs(who, mine, n, g)
    real = real_targets(src, targets, labels, mine)
    shuffled = [who[i] for i in torch.randperm(len(who), generator=g).tolist()]
    one = sorted(mine)[0]  # every target answered by clips of this one speaker
    one_voice = real_targets(src, [one] * len(src), labels, mine)
    rows = {
        "real held-out clips (the floors)": {
            "voice_eer": equal_error_rate(*pair_scores(own, who)),
            "conversion_voice": moved_share(emb[real], src, targets, who, emb, mine, skip=real),
            "words": word_agreement(test[:n], labels[:n], data.class_names, data.sample_rate),
        },
        "speaker labels shuffled": {"voice_eer": equal_error_rate(*pair_scores(own, shuffled))},
        "words shuffled": {
            "words": word_agreement(
                test[:n], labels[torch.randperm(len(labels), generator=g)[:n]], data.class_names, data.sample_rate
            )
        },  # fmt: skip
        f"one voice ({one}) for every target": {
            "conversion_voice": moved_share(emb[one_voice], src, targets, who, emb, mine, skip=one_voice)
        },
    }
    return rows


def main(argv: Optional[list[str]] = None) -> None:
    """`python -m genforge.modalities.audio.voice_sanity --data spoken-digits`: the voice sanity table."""
    ap = argparse.ArgumentParser(description=main.__doc__)
    ap.add_argument("--data", default="spoken-digits")
    ap.add_argument("--set", action="append", default=[], help="data keys, e.g. --set test_fraction=0.3")
    ap.add_argument("--n", type=int, default=200)
    args = ap.parse_args(argv)
    keys = dict(kv.split("=", 1) for kv in args.set)
    data = load_audio(AudioDataConfig(source=args.data, **keys))
    rows = voice_sanity(data, args.n)
    figures = ["voice_eer", "conversion_voice", "words"]
    print("| clips | " + " | ".join(figures) + " |\n|---|" + "---|" * len(figures))
    for name, row in rows.items():
        cells = ["" if row.get(f) is None else f"{row[f]:.3f}" for f in figures]
        print(f"| {name} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
