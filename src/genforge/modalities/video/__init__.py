"""Video: the modality (short clips), its sources (moving digits and garments, GIF/MP4/WebM folders), its
families (videogan, video-vae, image-motion) and the motion figures."""

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
            "image-motion",
            "at 10 CPU-minutes on moving-fashion its clips score FD 2.9 and frame FID 1.5 against the one-stream "
            "videogan's 7.6 and 13.3, garments of every class (docs/video.md)",
        ),
    ),
)
