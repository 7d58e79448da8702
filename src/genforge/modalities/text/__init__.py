"""Text: the modality, its sources (fortunes, text files and tables), tokenizer, figures and the sentence
families (text-vae, text-lm)."""

from ..manifest import Manifest

MANIFEST = Manifest(
    name="text",
    summary="short texts, English or Chinese",
    data_sets=("fortunes", "fortunes-zh"),
    families=("text-vae", "text-lm"),
    paths=".txt file or folder, .csv, .jsonl",
    outputs=".txt (default) or .jsonl",
    extra="text",
    requires=("sentencepiece", "sacrebleu"),
    probe_order=30,
    picks=(
        (
            0.0,
            "text-vae",
            "on English fortunes at 10 CPU-minutes the text-vae default's samples score FD 0.9x "
            "text-lm's, with a latent to interpolate in (docs/text.md); on the Chinese set text-lm's FD is lower: "
            "--model text-lm",
        ),
    ),
)
