"""Music: the modality (monophonic melodies), its sources (Bach chorales, folk songs, MIDI/MusicXML/ABC
folders), MIDI files and renderings, its families (music-vae, music-lm) and figures."""

from ..manifest import Manifest

MANIFEST = Manifest(
    name="music",
    summary="melodies",
    data_sets=("bach-chorales", "folk-songs"),
    families=("music-vae", "music-lm"),
    paths="folder of MIDI/MusicXML/ABC files",
    outputs=".mid (one file a melody, or a folder), .wav rendering, .npz",
    extra="music",
    requires=("music21", "pretty_midi", "sentencepiece", "soundfile"),
    probe_order=20,
    picks=(
        (
            0.0,
            "music-lm",
            "at 10 CPU-minutes music-lm's melodies are closer to real ones than music-vae's on both "
            "sets by music_gap (0.76 and 0.67 against 1.16 and 0.95) and intervals (docs/music.md)",
        ),
    ),
)
