"""The report's section for voice models (the `voice` ability): voices real beside generated, conversions
between held-out speakers, new voices, and a map of the speaker latents."""

from __future__ import annotations

import html

import torch

from ..io import fig_png, img_tag

SPEAKERS_SHOWN = 4  # held-out speakers a report plays


@torch.no_grad()
def voices_section(model, data, mod) -> str:
    """HTML: held-out speakers' real clips, each converted to the next speaker's voice (taken from that speaker's
    clips), new voices saying the first words, and a 2-D map (PCA) of the voices; "" without held-out speakers."""
    who = getattr(data, "test_speakers", None)
    if data is None or not who or len(set(who)) < 2:
        return ""
    test = data.tensor("test")
    # each held-out speaker's voice, from all their clips
    held = {s: model.voice_of(mod.to_model(test[[i for i, w in enumerate(who) if w == s]]).to(model.device))
            for s in sorted(set(who))}  # fmt: skip
    speakers = list(held)[:SPEAKERS_SHOWN]
    first = [who.index(s) for s in speakers]  # one clip of each shown speaker
    x = mod.to_model(test[first]).to(model.device)
    moved = model.convert(x, torch.stack([held[t] for t in speakers[1:] + speakers[:1]]))
    rows = torch.stack([test[first], mod.to_stored(moved)], 1).flatten(0, 1)
    names = [n for s, t in zip(speakers, speakers[1:] + speakers[:1]) for n in (s, f"{s} as {t}")]
    k = min(max(data.n_classes, 1), 5)
    g = torch.Generator().manual_seed(0)
    new = model.speak(model.new_voices(3, g).repeat_interleave(k, 0), torch.arange(k).repeat(3), g)
    words = [str((data.class_names or ["clip"] * k)[i]) for i in range(k)] * 3
    out = [
        "<h2 id='voices'>Voices</h2>",
        mod.html(mod.to_samples(rows, data.codec), 2, names, caption="Held-out speakers (voices no training saw), "
                 "each clip beside the same words in the next speaker's voice (taken from that speaker's clips):"),
        mod.html(mod.to_samples(mod.to_stored(new), data.codec), k, words, caption="Three new voices:"),
        _voice_map(model, torch.stack(list(held.values())).cpu()),
    ]  # fmt: skip
    return "\n".join(out)


def _voice_map(model, held: torch.Tensor) -> str:
    """A scatter of the training speakers' voices and the held-out speakers' (`held` [S, Ds]: their clips' mean
    speaker codes) on the two principal axes of the training voices."""
    import matplotlib.pyplot as plt  # deferred: matplotlib is slow to import; only figures need it

    train = model.voices[: len(model.voice_names())].cpu()
    mean = train.mean(0)
    axes = torch.linalg.svd(train - mean, full_matrices=False)[2][:2].T  # [Ds, 2]
    fig, ax = plt.subplots(figsize=(5, 4))
    for pts, label, marker in (((train - mean) @ axes, "training speakers", "o"), ((held - mean) @ axes,
                                "held-out speakers", "x")):  # fmt: skip
        ax.scatter(pts[:, 0].numpy(), pts[:, 1].numpy(), s=18, marker=marker, label=label)
    ax.set_xlabel("first principal axis of the voices")
    ax.set_ylabel("second")
    ax.legend()
    caption = "The speaker latents (a voice each: the mean code of the speaker's clips), on two axes:"
    return f"<p>{html.escape(caption)}</p>" + img_tag(fig_png(fig), "voice map")
