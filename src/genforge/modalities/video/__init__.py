"""Video: the modality (short clips), its sources (moving digits and garments, GIF/MP4/WebM folders), its
families (videogan, video-vae) and the motion figures."""

from ..manifest import Manifest

MANIFEST = Manifest(
    name="video",
    summary="short clips",
    data_sets=("moving-digits", "moving-fashion"),
    families=("videogan", "video-vae", "image-motion"),
    paths="folder of GIF/MP4/WebM files",
    outputs=".gif (default), .webp, .mp4, .npz or a folder",
    extra="video",
    requires=("av",),
    probe_order=40,
    picks=(
        (
            0.0,
            "videogan",
            "at 10 CPU-minutes on moving-fashion the videogan default's clips score FD 7.2 against "
            "video-vae's 10.6 (docs/video.md)",
        ),
    ),
)
