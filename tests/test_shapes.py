"""Shapes: meshes voxelised by the stated rule, bad files named, samples written as meshes that read back, the
point-cloud measures and the sanity conditions ordered as they should be, interpolation between two files."""

import io

import numpy as np
import pytest
import torch

trimesh = pytest.importorskip("trimesh", reason="the shapes extra: pip install 'genforge[shapes]'")

from genforge.config import validate  # noqa: E402
from genforge.errors import DataError  # noqa: E402
from genforge.modalities import MODALITIES  # noqa: E402
from genforge.modalities.shapes.modality import ShapesDataConfig  # noqa: E402
from genforge.modalities.shapes.pointcloud import filled, nearest_iou, point_clouds, pointcloud_figures  # noqa: E402
from genforge.modalities.shapes.sources import load_shapes  # noqa: E402
from genforge.modalities.shapes.voxels import read_grid, sniff_type, voxelise  # noqa: E402
from genforge.sample.sampling import interpolate_inputs  # noqa: E402

from .conftest import tiny_config, trained  # noqa: E402

R = 32


def iou(a: np.ndarray, b: np.ndarray) -> float:
    a, b = a >= 128, b >= 128
    return (a & b).sum() / (a | b).sum()


def test_a_unit_cube_fills_the_grid_by_the_rule_and_a_sphere_keeps_its_volume():
    cube = voxelise(trimesh.creation.box((1, 1, 1)), R)
    filled = np.argwhere(cube)
    # the longest side fills R - 2 voxels, one empty voxel on each side
    assert (filled.min(0) == 1).all() and (filled.max(0) == R - 2).all() and (cube > 0).sum() == (R - 2) ** 3
    sphere = voxelise(trimesh.creation.icosphere(subdivisions=4), R)
    exact = 4 / 3 * np.pi * ((R - 2) / 2) ** 3
    assert 1.0 <= (sphere > 0).sum() / exact < 1.05  # over by up to half a voxel of surface (docs/shapes.md)


@pytest.mark.parametrize("suffix", [".obj", ".stl", ".ply", ".off", ".glb"])
def test_every_mesh_format_reads_and_voxelises_alike(suffix, tmp_path):
    mesh = trimesh.creation.box((2.0, 1.0, 1.0))
    path = tmp_path / f"box{suffix}"
    mesh.export(path)
    grid, facts = read_grid(path, R)
    assert facts["watertight"] and facts["faces"] == 12
    assert iou(grid, voxelise(mesh, R)) > 0.99
    assert sniff_type(path.read_bytes()) == suffix.lstrip(".")
    # a 2 x 1 x 1 box: the long side (x) spans the grid, the others half of it, y up kept
    extent = np.ptp(np.argwhere(grid), 0) + 1
    assert extent[0] == R - 2 and extent[1] == extent[2] and abs(extent[1] - (R - 2) / 2) <= 1


def test_bad_mesh_files_are_named_and_skipped_or_refused_when_strict(tmp_path):
    good = tmp_path / "shapes"
    for label in ("boxes", "balls"):
        (good / label).mkdir(parents=True)
    for i in range(3):
        trimesh.creation.box((1, 0.5 + i / 4, 1)).export(good / "boxes" / f"box{i}.obj")
        trimesh.creation.icosphere(2, radius=1 + i).export(good / "balls" / f"ball{i}.stl")
    (good / "boxes" / "garbage.ply").write_bytes(b"ply\nformat nonsense\n")
    (good / "boxes" / "empty.obj").write_text("# no faces\n")
    (good / "balls" / "nan.obj").write_text("v nan 0 0\nv 1 0 0\nv 0 1 0\nf 1 2 3\n")
    (good / "balls" / "flat.obj").write_text("v 0 0 0\nv 0 0 0\nv 0 0 0\nf 1 2 3\n")
    data = load_shapes(validate(ShapesDataConfig, {"source": str(good), "resolution": 16, "test_fraction": 0.3}))
    reasons = {p.split("/")[-1]: why for p, why in data.problems}
    assert set(reasons) == {"garbage.ply", "empty.obj", "nan.obj", "flat.obj"}
    assert "non-finite" in reasons["nan.obj"] and "no volume" in reasons["flat.obj"]
    assert len(data.train) + len(data.test) == 6 and data.class_names == ["balls", "boxes"]
    rep = MODALITIES.get("shapes").report(data)
    assert rep["meshes"]["watertight_share"] == 1.0 and len(rep["problems"]) == 4
    with pytest.raises(DataError, match="garbage.ply|empty.obj|nan.obj|flat.obj"):
        load_shapes(validate(ShapesDataConfig, {"source": str(good), "resolution": 16, "strict": True}))


def test_samples_written_as_meshes_read_back_and_revoxelise_to_the_grid(shapes_data, tmp_path):
    mod = MODALITIES.get("shapes")
    grids = mod.to_samples(shapes_data.tensor("test")[:6])
    out = mod.write(grids, tmp_path / "meshes", labels=np.arange(6) % 2, class_names=["a", "b"])
    files = sorted(out.glob("*.obj"))
    assert [f.name for f in files][:2] == ["0_a.obj", "1_b.obj"]
    back, _ = mod.read(out, shapes_data)
    # re-voxelised like any user's mesh: thin parts (a 16^3 chair's legs) thicken by up to a voxel
    ious = [iou(a, b) for a, b in zip(grids, back[:, 0].numpy())]
    assert min(ious) > 0.3 and np.median(ious) > 0.5
    for suffix in (".glb", ".stl", ".png", ".gif", ".npz"):
        mod.write(grids, tmp_path / f"all{suffix}")
    scene = trimesh.load(io.BytesIO((tmp_path / "all.glb").read_bytes()), file_type="glb")
    assert len(scene.geometry) == 6  # one node a shape
    assert torch.equal(mod.read(tmp_path / "all.npz", shapes_data)[0], shapes_data.tensor("test")[:6])


def test_the_chamfer_measures_put_held_out_shapes_before_faulty_ones(shapes_data):
    mod = MODALITIES.get("shapes")
    conditions = mod.sanity_conditions(shapes_data, 20, seed=0)
    ref = point_clouds(shapes_data.tensor("train")[:40])
    real = pointcloud_figures(point_clouds(conditions["real (floor)"]), ref)
    for fault in ("one shape repeated", "dilated 1 voxel", "turned on their side"):
        bad = pointcloud_figures(point_clouds(conditions[fault]), ref)
        assert real["mmd_cd"] < bad["mmd_cd"] and real["nna_cd"] < bad["nna_cd"], fault
    repeated = pointcloud_figures(point_clouds(conditions["one shape repeated"]), ref)
    assert repeated["cov_cd"] < real["cov_cd"]
    train = shapes_data.tensor("train")
    assert nearest_iou(train[:10], filled(train)).min() == 1.0
    assert nearest_iou(conditions["real (floor)"], filled(train)).mean() < 1.0


def test_interpolation_between_two_mesh_files_ends_at_their_reconstructions(shapes_data, tmp_path):
    cfg = tiny_config("voxel-vae", "train.steps=20", source="primitive-shapes")
    _, model = trained(cfg, tmp_path / "run", shapes_data)
    mod = MODALITIES.get("shapes")
    files = []
    for name, mesh in (("a.obj", trimesh.creation.box((1, 2, 1))), ("b.stl", trimesh.creation.torus(1, 0.3))):
        mesh.export(tmp_path / name)
        files.append(mod.from_upload((tmp_path / name).read_bytes(), model.shape))
    path = interpolate_inputs(model, files[0], files[1], steps=5)
    with torch.no_grad():
        ends = [mod.to_samples(mod.to_stored(model.reconstruct(mod.to_model(f))))[0] for f in files]
    assert np.array_equal(path[0], ends[0]) and np.array_equal(path[-1], ends[1])


@pytest.fixture(scope="module")
def vae_run(shapes_data, tmp_path_factory):
    run = tmp_path_factory.mktemp("voxel-vae") / "shapes-run"
    cfg = tiny_config("voxel-vae", "train.steps=30", "model.conditional=true", source="primitive-shapes")
    return trained(cfg, run, shapes_data)[0]


@pytest.mark.integration
def test_the_server_answers_renders_turntables_and_meshes(vae_run):
    from fastapi.testclient import TestClient

    from genforge.serve import create_app

    client = TestClient(create_app([vae_run]))
    url = f"/api/{vae_run.name}/generate"
    png = client.get(url, params={"n": 4, "class": "chair"})
    assert png.status_code == 200 and png.headers["content-type"] == "image/png", png.text
    gif = client.get(url, params={"n": 2, "format": "gif"})
    assert gif.headers["content-type"] == "image/gif" and gif.content[:6] == b"GIF89a"
    glb = client.get(url, params={"n": 3, "format": "glb", "seed": 4})
    assert glb.headers["content-type"] == "model/gltf-binary"
    assert len(trimesh.load(io.BytesIO(glb.content), file_type="glb").geometry) <= 3
    obj = client.get(url, params={"n": 1, "format": "obj"}).text
    assert obj.count("\nf ") > 10
    j = client.get(url, params={"n": 2, "format": "json"}).json()
    assert len(j["renders"]) == 2 and j["shape"] == [16, 16, 16]
    bad = client.get(url, params={"format": "mp4"})
    assert bad.status_code == 422 and "png, gif, obj, glb, json" in bad.text


@pytest.mark.integration
def test_the_page_shows_renders_and_offers_the_meshes(vae_run, tmp_path, monkeypatch):
    from genforge.report import write_report
    from genforge.serve import create_app

    from .test_serve import CHROMIUM, browser_on

    if not __import__("os").path.exists(CHROMIUM):
        pytest.skip("Debian's chromium is not installed (apt-get install chromium)")
    monkeypatch.setenv("GENFORGE_CACHE", str(tmp_path / "cache"))
    report = write_report(vae_run)
    assert report.read_text().count("<img") >= 3  # real shapes, samples, the interpolation, as renders
    with browser_on(create_app([vae_run])) as (page, url):
        page.goto(url)
        page.wait_for_function("document.getElementById('grid')?.naturalWidth > 0")
        assert "format=glb" in page.get_attribute("#sh_glb", "href")
        page.select_option("#sh_view", "gif")
        page.click("#generate")
        page.wait_for_function("document.getElementById('grid')?.naturalWidth > 0")
