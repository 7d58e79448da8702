import importlib
import inspect
import os
from pathlib import Path

import pytest
import torch

from genforge.modalities.audio.modality import AudioDataConfig
from genforge.modalities.image.dataset import load_data
from genforge.modalities.image.modality import ImageDataConfig
from genforge.modalities.text.modality import TextDataConfig
from genforge.modalities.text.textset import load_text
from genforge.modalities.video.modality import VideoDataConfig
from genforge.models import FAMILIES
from genforge.run import resolve_config

# One thread per pytest-xdist worker, for the worker and the processes its tests start (the workers share the
# cores: two threads each would oversubscribe them); else up to two.
if os.environ.get("PYTEST_XDIST_WORKER"):
    os.environ.setdefault("OMP_NUM_THREADS", "1")
torch.set_num_threads(int(os.environ.get("OMP_NUM_THREADS", min(2, os.cpu_count() or 1))))
QUIET = ["train.log_every=10", "train.sample_every=1000000", "train.checkpoint_every=1000000"]
# Real English text that is always at hand: the summary lines of the standard library's docstrings,
# labelled by the kind of module they document.
TEXT_MODULES = {
    "files": ["os", "shutil", "pathlib", "io", "tempfile", "glob", "zipfile", "tarfile", "gzip", "csv"],
    "numbers": ["math", "statistics", "random", "decimal", "fractions", "cmath", "itertools", "functools", "operator"],
}
AUDIO = {"clips": 150, "sample_rate": 8000, "seconds": 0.5}  # spoken digits for tests: 0.5 s at 8 kHz
VIDEO = {"clips": 160, "resolution": 16, "frames": 8}  # moving digits for tests: 8 frames of 16 x 16
SHAPES = {"shapes": 200, "resolution": 16}  # primitive shapes for tests: 200 grids of 16^3
DIALOG_PAIRS = 300  # the first 300 training pairs of the English ChatterBot conversations
FOLK = {"han": "han1", "deutsch": "altdeu10"}  # real folk songs for tests: 50 tunes of each of two collections
# small data of each modality for the tiny configs
DATA_SETS = {
    "image": [],
    "text": ["data.vocab_size=400", "data.max_tokens=24"],
    "audio": [f"data.{k}={v}" for k, v in AUDIO.items()],
    "video": [f"data.{k}={v}" for k, v in VIDEO.items()],
    "music": ["data.bars=1"],
    "shapes": [f"data.{k}={v}" for k, v in SHAPES.items()],
    "dialog": [f"data.limit={DIALOG_PAIRS}"],
}


def pytest_collection_modifyitems(config, items):
    """Integration tests first (stable order otherwise): the long ones start while both xdist workers are busy
    instead of leaving one worker alone with them at the end. Slow campaigns run without the 10-minute
    per-test timeout (pyproject.toml) that ends any other test that hangs."""
    items.sort(key=lambda item: item.get_closest_marker("integration") is None)
    for item in items:
        if item.get_closest_marker("slow"):
            item.add_marker(pytest.mark.timeout(0))


def stdlib_sentences() -> dict[str, list[str]]:
    """{label: docstring summary lines of 4-20 words} from fixed standard-library modules (about 450 lines)."""
    out = {}
    for label, mods in TEXT_MODULES.items():
        lines: list[str] = []
        for m in mods:
            mod = importlib.import_module(m)
            for name in sorted(dir(mod)):
                obj = getattr(mod, name)
                doc = inspect.getdoc(obj) if not name.startswith("_") and callable(obj) else None
                first = doc.strip().split("\n\n")[0].replace("\n", " ") if doc else ""
                if 4 <= len(first.split()) <= 20 and first not in lines:
                    lines.append(first)
        out[label] = lines
    return out


@pytest.fixture(scope="session")
def digits():
    return load_data(ImageDataConfig(source="digits"))


@pytest.fixture(scope="session")
def ones_sevens():
    """Two unpaired domains of real images: the digits' ones (A) and sevens (B)."""
    return load_data(ImageDataConfig(source="ones2sevens"))


@pytest.fixture(scope="session")
def text_folder(tmp_path_factory) -> Path:
    """A folder of .txt files, one subfolder per label (the layout users give)."""
    root = tmp_path_factory.mktemp("text") / "docs"
    for label, lines in stdlib_sentences().items():
        (root / label).mkdir(parents=True)
        (root / label / "lines.txt").write_text("\n".join(lines) + "\n")
    return root


@pytest.fixture(scope="session")
def text_data(text_folder, tmp_path_factory):
    _cache(tmp_path_factory)
    return load_text(TextDataConfig(source=str(text_folder), vocab_size=400, max_tokens=24))


def _cache(tmp_path_factory) -> None:
    os.environ.setdefault("GENFORGE_CACHE", str(tmp_path_factory.mktemp("cache")))


@pytest.fixture(scope="session")
def audio_data(tmp_path_factory):
    """150 spoken digits (0.5 s at 8 kHz), synthesised by espeak-ng into a temporary cache."""
    import shutil

    if shutil.which("espeak-ng") is None:
        pytest.skip("espeak-ng is not installed (apt-get install espeak-ng; `make data` does it)")
    _cache(tmp_path_factory)
    from genforge.modalities.audio.sources import load_audio

    return load_audio(AudioDataConfig(**AUDIO))


@pytest.fixture(scope="session")
def video_data():
    """160 clips of scikit-learn's digits moving in 16 x 16 frames, 8 frames each."""
    from genforge.modalities.video.sources import load_video

    return load_video(VideoDataConfig(**VIDEO))


@pytest.fixture(scope="session")
def dialog_data(tmp_path_factory):
    """The English ChatterBot conversations, 300 training pairs (all the held-out ones)."""
    pytest.importorskip("chatterbot_corpus", reason="the dialog extra: pip install 'genforge[dialog]'")
    from genforge.modalities.dialog.pairset import DialogDataConfig, load_dialog

    _cache(tmp_path_factory)
    return load_dialog(DialogDataConfig(limit=DIALOG_PAIRS))


@pytest.fixture(scope="session")
def shapes_data(tmp_path_factory):
    """200 primitive shapes of 16^3 voxels (and 20 held out), made into a temporary cache."""
    pytest.importorskip("trimesh", reason="the shapes extra: pip install 'genforge[shapes]'")
    from genforge.modalities.shapes.modality import ShapesDataConfig
    from genforge.modalities.shapes.sources import load_shapes

    _cache(tmp_path_factory)
    return load_shapes(ShapesDataConfig(**SHAPES))


@pytest.fixture(scope="session")
def music_folder(tmp_path_factory) -> Path:
    """A folder of two ABC files of real folk songs (the first 50 tunes of two Essen collections in music21's
    corpus), one subfolder per collection: the layout users give."""
    from music21 import corpus

    from genforge.modalities.music.sources import abc_tunes

    root = tmp_path_factory.mktemp("music") / "songs"
    for label, name in FOLK.items():
        path = next(p for p in corpus.getPaths() if Path(str(p)).stem == name)
        (root / label).mkdir(parents=True)
        (root / label / f"{name}.abc").write_text("\n\n".join(abc_tunes(Path(path).read_text("latin-1"))[:50]))
    return root


@pytest.fixture(scope="session")
def music_data(music_folder, tmp_path_factory):
    from genforge.modalities.music.modality import MusicDataConfig
    from genforge.modalities.music.musicset import load_music

    _cache(tmp_path_factory)
    return load_music(MusicDataConfig(source=str(music_folder), bars=1))


def tiny_config(family: str, *sets: str, preset: str | None = None, source: str | None = None):
    """A small, fast config of `family` (its own tiny model) on digits, or on `source`."""
    fam = FAMILIES.get(family)
    data = [] if source is None else [f"data.source={source}", *DATA_SETS[fam.modality]]
    return resolve_config(family, preset, sets=[*fam.tiny, *QUIET, "train.batch_size=32", *data, *sets])


def trained(cfg, run: Path, data):
    """(run, model in eval mode): `cfg` trained quietly on `data` into the run directory `run`."""
    from genforge.train import Trainer

    tr = Trainer(cfg, run, data=data, progress=False, log=lambda s: None)
    tr.fit()
    return run, tr.model.eval()


def small_space(folder: Path) -> str:
    """A search space file of two cheap VAE parameters: the family's own space draws models up to 512 wide, and
    a tuning test is about trials, budgets and workers, not about how long one big trial takes."""
    path = folder / "small-space.yaml"
    path.write_text(
        "train.lr: {type: float, low: 1.0e-4, high: 3.0e-3, log: true}\n"
        "model.beta: {type: float, low: 0.5, high: 2.0}\n"
    )
    return str(path)
