"""Dialog: answers to questions, text conditioned on text: the modality, its sources (the ChatterBot
conversations in English and Chinese, a user's CSV/JSONL of pairs or folder of ChatterBot-style YAML) and its
families (dialog-cvae, dialog-gan), the question-answer matching model and the dialogue figures."""

from ..manifest import Manifest

MANIFEST = Manifest(
    name="dialog",
    summary="answers to questions (question-answer pairs)",
    data_sets=("conversations", "conversations-zh"),
    families=("dialog-cvae", "dialog-gan"),
    paths=".csv or .jsonl with question and answer columns, or a folder of ChatterBot-style .yml",
    outputs=".jsonl of questions and answers (default) or .txt (question<TAB>answer)",
    extra="dialog",
    requires=("sentencepiece", "sacrebleu", "chatterbot_corpus", "yaml"),
    probe_order=25,  # before text: a table with question and answer columns is pairs, not texts
    picks=(
        (
            0.0,
            "dialog-gan",
            "at 10 CPU-minutes it copies training answers no more often than held-out answers do (dialog-cvae: "
            "1.6x as often), and what sampling gives, copies drawn again, fits its question as often or more, in "
            "English and Chinese (docs/answers.md)",
        ),
    ),
)
