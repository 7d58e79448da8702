"""Images: the modality, its sources (built-in sets, image folders, IDX, arrays, captions, unpaired
domains) and the families that generate images alone (pix2pix, text2image, cyclegan)."""

from ..manifest import Manifest

MANIFEST = Manifest(
    name="image",
    summary="images",
    data_sets=("digits", "fashion-mnist", "fashion-mnist-captions", "sneakers2boots", "tshirts2shirts",
               "sandals2sneakers", "ones2sevens"),
    families=("dcgan", "vae", "pix2pix", "text2image", "cyclegan"),
    paths="image folder, IDX folder, .npz/.npy",
    outputs=".png grid (default), .npz or a folder of PNGs",
    probe_order=0,
    picks=(
        (0.0, "vae", "at 5 CPU-minutes on Fashion-MNIST the VAE default's samples score FID 1.2-1.4, the DCGAN "
         "default's 2.9; at 30, 0.48 against the wide DCGAN's 2.0 (docs/optimization.md)"),
    ),
)  # fmt: skip
