"""Shapes: three-dimensional objects as occupancy voxels: the modality, its sources (seeded primitive shapes,
Debian's Sweet Home 3D furniture, folders of meshes or voxel grids), its families (voxel-gan, voxel-vae), the
renders and the point-cloud figures."""

from ..manifest import Manifest

MANIFEST = Manifest(
    name="shapes",
    summary="3-D shapes",
    data_sets=("primitive-shapes", "furniture"),
    families=("voxel-gan", "voxel-vae"),
    paths="folder of OBJ/STL/PLY/OFF/GLB/glTF meshes or .npz voxel grids",
    outputs=".png grid of renders (default), .gif turntable, .npz voxels, or a folder of .obj/.stl/.ply/.glb meshes",
    extra="shapes",
    requires=("trimesh", "skimage"),
    probe_order=45,
    picks=(
        (
            0.0,
            "voxel-vae",
            "at 10 CPU-minutes its shapes score nearer their floors than voxel-gan's on both built-in sets "
            "(docs/shapes.md)",
        ),
    ),
)
