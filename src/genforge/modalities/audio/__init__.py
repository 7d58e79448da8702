"""Audio: the modality, its sources (spoken digits, instrument notes, sound folders), signal processing,
the audio families (wavegan, specgan, specvae, ddsp, voice-vae), voices (speakers, a verifier, conversion) and
the speech, pitch and harmonicity figures."""

from ..manifest import Manifest

MANIFEST = Manifest(
    name="audio",
    summary="short sounds: speech, notes",
    data_sets=("spoken-digits", "instrument-notes", "voice-digits"),
    families=("wavegan", "specgan", "specvae", "ddsp", "voice-vae"),
    paths="folder of WAV/FLAC/OGG files",
    outputs=".wav (a clip a sample), .npz or a folder of WAVs",
    extra="audio",
    requires=("soundfile", "pocketsphinx"),
    probe_order=10,
    picks=(
        (
            0.0,
            "specgan",
            "on a CPU, SpecGAN's spoken digits are heard as the digit asked 0.87x as often as real clips "
            "after 10 minutes; WaveGAN needs hours (docs/audio.md)",
        ),
    ),
    data_picks=(
        (
            "instrument-notes",
            "ddsp",
            "on instrument-notes, DDSP's synthesiser sounds the pitch asked for every time and its notes sit among "
            "real ones (precision 0.84, floor 0.41) after 10 CPU-minutes, where SpecGAN's are noise (docs/music.md)",
        ),
    ),
)
