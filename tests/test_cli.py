"""fastkeras-augment: the real command on temporary trees, and its job engine.

The command runs as a subprocess (``python -m fastkeras.cli``) for what a user sees: files,
names, exit codes, refusals, interruption, determinism across workers and shards. Validation
of every flag, formats and planning details run in-process through ``main(argv)`` and
:mod:`fastkeras.augment_job`. Pixels are checked against keras_preprocessing's own
``get_random_transform`` / ``apply_transform`` (scipy.ndimage resampling), seeded by the
documented hash recomputed here.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
import warnings

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st
from PIL import Image

from fastkeras import augment_job
from fastkeras.augment_job import UsageError, make_options, plan_job
from fastkeras.cli import main
from fastkeras.data import samples_dir

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# The augmentation of the shared reference run (every geometric draw, flips, channel shift).
AUGMENTATION = {
    "rotation_range": 25,
    "width_shift_range": 0.15,
    "height_shift_range": [-3, 2],
    "shear_range": 8,
    "zoom_range": [0.8, 1.1],
    "channel_shift_range": 20.0,
    "horizontal_flip": True,
    "vertical_flip": True,
    "fill_mode": "reflect",
}
SEED = 11
COPIES = 3

# relative path -> (height, width, mode) of the standard tree
TREE = {
    "top.png": (20, 26, "RGB"),
    "cats/a.png": (24, 30, "RGB"),
    "cats/b.jpg": (24, 30, "RGB"),
    "cats/c.png": (18, 18, "L"),
    "dogs/d.bmp": (22, 16, "RGB"),
    "dogs/sub/e.png": (24, 30, "RGBA"),
}


def picture(seed: int, height: int, width: int, mode: str = "RGB") -> Image.Image:
    """A smooth deterministic picture (so JPEG and resampling behave as on photos)."""
    rng = np.random.default_rng(seed)
    channels = {"RGB": 3, "RGBA": 4, "L": 1}[mode]
    coarse = rng.integers(0, 256, (4, 4, channels), dtype=np.uint8)
    img = Image.fromarray(coarse[:, :, 0] if channels == 1 else coarse)
    return img.resize((width, height), Image.Resampling.BICUBIC)


def write_tree(root, tree: dict = TREE) -> str:
    root = str(root)
    for i, (rel, (h, w, mode)) in enumerate(sorted(tree.items())):
        path = os.path.join(root, rel)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        picture(i, h, w, mode).save(path)
    if tree is TREE:
        with open(os.path.join(root, "cats", "notes.txt"), "w") as f:
            f.write("not an image, and not listed")
    return root


def expected_outputs(tree: dict, copies: int, fmt: str = "png") -> set[str]:
    names = set()
    for rel in tree:
        stem, folder = os.path.splitext(os.path.basename(rel))[0], os.path.dirname(rel)
        names |= {os.path.join(folder, f"{stem}_aug{k}.{fmt}") for k in range(copies)}
    return names


def files_under(root) -> set[str]:
    """Every file under ``root`` (hidden ones included), relative."""
    found = set()
    for folder, _, files in os.walk(root):
        found |= {os.path.relpath(os.path.join(folder, f), root) for f in files}
    return found


def checksums(root, exclude=("preview.png",)) -> dict[str, str]:
    out = {}
    for rel in files_under(root):
        if rel not in exclude:
            with open(os.path.join(root, rel), "rb") as f:
                out[rel] = hashlib.sha256(f.read()).hexdigest()
    return out


def cli(*args, cwd=None, timeout=180) -> subprocess.CompletedProcess:
    """Run the real command in a fresh interpreter."""
    env = dict(os.environ, PYTHONPATH=REPO + os.pathsep + os.environ.get("PYTHONPATH", ""))
    return subprocess.run([sys.executable, "-m", "fastkeras.cli", *map(str, args)],
                          capture_output=True, text=True, cwd=cwd, timeout=timeout, env=env)


def write_config(path, settings_: dict) -> str:
    with open(path, "w") as f:
        json.dump(settings_, f)
    return str(path)


def reference_pixels(src: str, rel: str, k: int, seed: int, augmentation: dict,
                     color_mode: str = "rgb") -> np.ndarray:
    """Output ``k`` of ``rel`` computed by keras_preprocessing, seeded by the documented hash."""
    kp = pytest.importorskip("keras_preprocessing.image")
    mode = {"rgb": "RGB", "rgba": "RGBA", "grayscale": "L"}[color_mode]
    with Image.open(os.path.join(src, rel)) as img:
        x = np.asarray(img.convert(mode), dtype=np.float32)
    if x.ndim == 2:
        x = x[:, :, None]
    digest = hashlib.sha256(f"{seed}/{k}/{rel}".encode("utf-8")).digest()
    gen = kp.ImageDataGenerator(**augmentation)
    state = np.random.get_state()
    try:  # keras_preprocessing seeds numpy's global RNG
        params = gen.get_random_transform(x.shape, seed=np.frombuffer(digest, "<u4"))
    finally:
        np.random.set_state(state)
    with warnings.catch_warnings():  # its scipy.ndimage.interpolation import path
        warnings.simplefilter("ignore", DeprecationWarning)
        y = gen.apply_transform(x, params)
    y = np.clip(np.rint(y), 0, 255).astype(np.uint8)
    return y[:, :, 0] if y.shape[2] == 1 else y


def assert_close_pixels(actual: np.ndarray, expected: np.ndarray) -> None:
    """Equal but for rare one-level differences (a value at .5 rounding either way)."""
    assert actual.shape == expected.shape
    diff = np.abs(actual.astype(np.int16) - expected.astype(np.int16))
    assert diff.max() <= 1
    assert np.mean(diff == 0) >= 0.99


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    """One uninterrupted run of the standard tree with --workers 1: (src, dst, config, result)."""
    root = tmp_path_factory.mktemp("reference")
    src = write_tree(root / "src")
    config = write_config(root / "job.json", {**AUGMENTATION, "copies": COPIES, "seed": SEED})
    dst = str(root / "dst")
    result = cli(src, dst, "--config", config, "--workers", "1",
                 "--report", root / "report.json")
    with open(root / "report.json") as f:
        report = json.load(f)
    return src, dst, config, result, report


# --------------------------------------------------------------------------------------------
# The real command
# --------------------------------------------------------------------------------------------

def test_structure_names_progress_and_report(reference):
    src, dst, _, result, report = reference
    assert result.returncode == 0, result.stderr
    assert files_under(dst) == expected_outputs(TREE, COPIES)  # and no temporary files
    for rel, (h, w, _) in TREE.items():
        stem = os.path.splitext(rel)[0]
        with Image.open(os.path.join(dst, f"{stem}_aug0.png")) as img:
            assert (img.format, img.mode, img.size) == ("PNG", "RGB", (w, h))
    assert result.stdout == ""
    assert "images/s" in result.stderr and "━" in result.stderr  # the progress bar
    n = len(TREE) * COPIES
    assert f"{n} written, 0 skipped, 0 failed" in result.stderr
    assert (report["written"], report["skipped"], report["failed"]) == (n, 0, 0)
    assert (report["sources"], report["planned"], report["failures"]) == (len(TREE), n, [])
    assert report["settings"]["rotation_range"] == 25 and report["settings"]["seed"] == SEED
    assert report["images_per_s"] == pytest.approx(n / report["elapsed_s"])


def test_outputs_equal_keras_preprocessing_with_the_documented_seeds(reference):
    src, dst, _, _, _ = reference
    for rel in TREE:
        stem = os.path.splitext(rel)[0]
        for k in range(COPIES):
            with Image.open(os.path.join(dst, f"{stem}_aug{k}.png")) as img:
                actual = np.asarray(img)
            assert_close_pixels(actual, reference_pixels(src, rel, k, SEED, AUGMENTATION))


@pytest.mark.slow
def test_outputs_identical_whatever_workers_and_shards(reference, tmp_path):
    src, dst, config, _, _ = reference
    sharded = tmp_path / "sharded"
    first = cli(src, sharded, "--config", config, "--workers", "3", "--shard", "0/2",
                "--report", tmp_path / "r0.json")
    second = cli(src, sharded, "--config", config, "--workers", "2", "--shard", "1/2",
                 "--report", tmp_path / "r1.json")
    assert first.returncode == 0 and second.returncode == 0, first.stderr + second.stderr
    assert checksums(sharded) == checksums(dst)
    written = []
    for name in ("r0.json", "r1.json"):
        with open(tmp_path / name) as f:
            written.append(json.load(f)["written"])
    assert written == [3 * COPIES, 3 * COPIES]  # sources 0, 2, 4 and 1, 3, 5 of the listing


@pytest.mark.slow
def test_resume_after_kill_9(tmp_path, capsys):
    tree = {f"c{i % 3}/img{i:03d}.png": (32, 32, "RGB") for i in range(120)}
    src = write_tree(tmp_path / "src", tree)
    args = ["--copies", "3", "--rotation-range", "30", "--horizontal-flip", "--seed", "4"]
    complete = tmp_path / "complete"
    assert main([src, str(complete), *args, "--quiet"]) == 0

    dst = tmp_path / "dst"
    env = dict(os.environ, PYTHONPATH=REPO + os.pathsep + os.environ.get("PYTHONPATH", ""))
    proc = subprocess.Popen([sys.executable, "-m", "fastkeras.cli", src, dst, *args,
                             "--workers", "1", "--quiet"], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 120

    def outputs() -> set[str]:
        found = files_under(dst) if dst.exists() else set()
        return {f for f in found if not os.path.basename(f).startswith(".")}

    while len(outputs()) < 15 and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.005)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    done = outputs()
    assert 15 <= len(done) < 360, "the run was not interrupted mid-way"
    partial = [f for f in files_under(dst) if f not in done]
    assert all(os.path.basename(f).startswith(".") and f.endswith(".part") for f in partial)

    resumed = cli(src, dst, *args, "--report", tmp_path / "resume.json")
    assert resumed.returncode == 0, resumed.stderr
    with open(tmp_path / "resume.json") as f:
        report = json.load(f)
    assert (report["skipped"], report["written"]) == (len(done), 360 - len(done))
    assert report["removed_partial"] == len(partial)
    assert checksums(dst) == checksums(complete)  # the outputs present at the kill were whole


def overlapping(tmp_path, case: str) -> tuple[str, str]:
    src = write_tree(tmp_path / "data")
    dst = {"same": src,
           "dst_inside_src": os.path.join(src, "cats", "out"),
           "src_inside_dst": str(tmp_path),
           "symlink": str(tmp_path / "link")}[case]
    if case == "symlink":
        os.symlink(src, dst)
    return src, dst


REFUSALS = {"same": "is the source folder SRC", "symlink": "is the source folder SRC",
            "dst_inside_src": "is inside SRC", "src_inside_dst": "is inside DST"}


def test_command_refuses_dst_inside_src(tmp_path):
    src, dst = overlapping(tmp_path, "dst_inside_src")
    before = files_under(tmp_path)
    result = cli(src, dst)
    assert result.returncode == 2
    assert "fastkeras-augment: error: DST" in result.stderr and "is inside SRC" in result.stderr
    assert files_under(tmp_path) == before


@pytest.mark.parametrize("case", sorted(REFUSALS))
def test_refuses_overlapping_folders(tmp_path, capsys, case):
    src, dst = overlapping(tmp_path, case)
    before = files_under(tmp_path)
    assert main([src, dst]) == 2
    assert REFUSALS[case] in capsys.readouterr().err
    assert files_under(tmp_path) == before


def test_corrupt_inputs_are_reported_and_skipped(tmp_path, capsys):
    src = write_tree(tmp_path / "src")
    with open(os.path.join(src, "cats", "broken.png"), "w") as f:
        f.write("this is text")
    whole = os.path.join(src, "cats", "b.jpg")
    with open(whole, "rb") as f:
        data = f.read()
    with open(os.path.join(src, "dogs", "cut.jpg"), "wb") as f:
        f.write(data[: len(data) // 3])
    dst = tmp_path / "dst"
    result = cli(src, dst, "--copies", "2", "--report", tmp_path / "report.json")
    assert result.returncode == 1
    assert "failed: cats/broken.png: cannot identify image file" in result.stderr
    assert "failed: dogs/cut.jpg:" in result.stderr
    with open(tmp_path / "report.json") as f:
        report = json.load(f)
    assert [f["source"] for f in report["failures"]] == ["cats/broken.png", "dogs/cut.jpg"]
    assert (report["written"], report["failed"]) == (2 * len(TREE), 4)
    assert files_under(dst) == expected_outputs(TREE, 2)

    assert main([src, str(dst), "--copies", "2", "--quiet"]) == 1
    err = capsys.readouterr().err
    assert err.count("failed:") == 2 and "written" not in err


def test_dry_run_lists_and_writes_nothing(tmp_path, capsys):
    src = write_tree(tmp_path / "src")
    dst = tmp_path / "dst"
    os.makedirs(dst / "cats")
    (dst / "cats" / "a_aug1.png").write_bytes(b"finished earlier")
    before = {f: os.stat(dst / f).st_mtime_ns for f in files_under(dst)}
    result = cli(src, dst, "--copies", "2", "--dry-run")
    assert result.returncode == 0, result.stderr
    listed = result.stdout.splitlines()
    expected = expected_outputs(TREE, 2) - {os.path.join("cats", "a_aug1.png")}
    assert sorted(listed) == sorted(os.path.join(dst, rel) for rel in expected)
    assert "11 image(s) would be written" in result.stderr and "1 exist already" in result.stderr
    assert {f: os.stat(dst / f).st_mtime_ns for f in files_under(dst)} == before

    assert main([src, str(tmp_path / "fresh"), "--dry-run", "--quiet"]) == 0
    out, err = capsys.readouterr()
    assert err == "" and len(out.splitlines()) == 5 * len(TREE)
    assert not (tmp_path / "fresh").exists()


def test_config_file_and_flags_precedence(tmp_path):
    src = write_tree(tmp_path / "src")
    os.makedirs(tmp_path / "conf")
    config = write_config(tmp_path / "conf" / "job.json",
                          {"rotation_range": 40, "copies": 4, "format": "jpg", "seed": 5,
                           "dst": "out", "horizontal_flip": True})
    result = cli(src, "--config", config, "--copies", "2", "--format", "png",
                 "--no-horizontal-flip", "--report", tmp_path / "r.json", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    dst = tmp_path / "conf" / "out"  # a path in the config is relative to the config's folder
    assert files_under(dst) == expected_outputs(TREE, 2, "png")
    with open(tmp_path / "r.json") as f:
        used = json.load(f)["settings"]
    assert (used["rotation_range"], used["seed"], used["copies"], used["format"],
            used["horizontal_flip"]) == (40, 5, 2, "png", False)
    with Image.open(dst / "cats" / "a_aug1.png") as img:
        actual = np.asarray(img)
    augmentation = {"rotation_range": 40, "horizontal_flip": False}
    assert_close_pixels(actual, reference_pixels(src, "cats/a.png", 1, 5, augmentation))


def test_default_run_augments_the_bundled_samples(tmp_path, capsys, monkeypatch):
    result = cli(cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    dst = tmp_path / "augmented"
    sources = augment_job.list_sources(samples_dir())
    assert len(sources) == 12 and {s.split("/")[0] for s in sources} == {
        "arrows", "houses", "letters"}
    expected = expected_outputs(dict.fromkeys(sources), 5) | {"preview.png"}
    assert files_under(dst) == expected
    assert "60 written" in result.stderr and "preview of 6 image(s)" in result.stderr
    with Image.open(dst / "preview.png") as img:
        preview = np.asarray(img)
    assert preview.shape == (6 * 116 + 4, 5 * 116 + 12, 3)
    # Row 0: arrow_0 (88 x 112, centred in its 112-pixel cell), then its copies 0 .. 3.
    for column, name in enumerate(["arrow_0.png"] + [f"arrow_0_aug{k}.png" for k in range(4)]):
        folder = samples_dir() if column == 0 else dst
        with Image.open(os.path.join(folder, "arrows", name)) as img:
            cell = np.asarray(img.convert("RGB"))
        x = 4 + column * 116 + (8 if column else 0)
        assert np.array_equal(preview[4 + 12:4 + 12 + 88, x:x + 112], cell)
    for rel in sources:  # the preset augments: no copy equals its source
        with Image.open(os.path.join(samples_dir(), rel)) as img:
            original = np.asarray(img.convert("RGB"))
        stem = os.path.splitext(rel)[0]
        with Image.open(dst / f"{stem}_aug0.png") as img:
            assert img.size == (original.shape[1], original.shape[0])
            assert not np.array_equal(np.asarray(img), original)
    monkeypatch.chdir(tmp_path)
    assert main([]) == 0
    assert "0 written, 60 skipped" in capsys.readouterr().err


@pytest.mark.skipif(shutil.which("fastkeras-augment") is None,
                    reason="package not reinstalled since the console script was added")
def test_console_script_is_installed(tmp_path):
    result = subprocess.run(["fastkeras-augment", "--help"], capture_output=True, text=True)
    assert result.returncode == 0 and "--dask-scheduler" in result.stdout


# --------------------------------------------------------------------------------------------
# main(argv) in-process: validation, formats, planning
# --------------------------------------------------------------------------------------------

@pytest.fixture
def small_src(tmp_path):
    return write_tree(tmp_path / "src", {"k/a.png": (12, 14, "RGB"), "k/b.png": (12, 14, "RGB")})


@pytest.mark.parametrize("flags, named", [
    (["--copies", "0"], "--copies"),
    (["--copies", "two"], "--copies"),
    (["--rotation-range", "-5"], "--rotation-range"),
    (["--rotation-range", "nan"], "--rotation-range"),
    (["--width-shift-range", "-0.1"], "--width-shift-range"),
    (["--height-shift-range", "x"], "--height-shift-range"),
    (["--zoom-range", "1.5"], "--zoom-range"),
    (["--zoom-range", "1.2", "0.8"], "--zoom-range"),
    (["--zoom-range", "0.8", "0.9", "1.0"], "--zoom-range"),
    (["--brightness-range", "1.5", "0.5"], "--brightness-range"),
    (["--shear-range", "-1"], "--shear-range"),
    (["--channel-shift-range", "inf"], "--channel-shift-range"),
    (["--cval", "nan"], "--cval"),
    (["--fill-mode", "bogus"], "--fill-mode"),
    (["--interpolation-order", "7"], "--interpolation-order"),
    (["--affine-convention", "tf"], "--affine-convention"),
    (["--target-size", "0", "5"], "--target-size"),
    (["--interpolation", "cubic"], "--interpolation"),
    (["--color-mode", "cmyk"], "--color-mode"),
    (["--format", "gif"], "--format"),
    (["--quality", "101", "--format", "jpg"], "--quality"),
    (["--quality", "80"], "--quality"),
    (["--color-mode", "rgba", "--format", "jpg"], "--format"),
    (["--seed", "-1"], "--seed"),
    (["--workers", "0"], "--workers"),
    (["--shard", "2/2"], "--shard"),
    (["--shard", "first"], "--shard"),
    (["--shard", "0/2", "--dask-scheduler", "tcp://127.0.0.1:8786"], "--dask-scheduler"),
    (["--dry-run", "--report", "r.json"], "--report"),
    (["--preview", "grid.unknown"], "preview"),
    (["--bogus-flag"], "--bogus-flag"),
])
def test_invalid_flags_are_usage_errors_naming_them(small_src, tmp_path, capsys, flags, named):
    dst = tmp_path / "dst"
    assert main([small_src, str(dst), *flags]) == 2
    err = capsys.readouterr().err
    assert "fastkeras-augment: error:" in err and named in err
    assert not dst.exists()


def test_usage_errors_for_paths(small_src, tmp_path, capsys):
    assert main([str(tmp_path / "missing"), str(tmp_path / "dst")]) == 2
    assert "is not a folder" in capsys.readouterr().err
    (tmp_path / "file").write_text("x")
    assert main([small_src, str(tmp_path / "file")]) == 2
    assert "exists and is not a folder" in capsys.readouterr().err
    os.makedirs(tmp_path / "empty")
    assert main([str(tmp_path / "empty"), str(tmp_path / "dst")]) == 2
    assert "holds no images" in capsys.readouterr().err
    preview = os.path.join(small_src, "k", "grid.png")
    assert main([small_src, str(tmp_path / "dst"), "--preview", preview]) == 2
    assert "inside SRC" in capsys.readouterr().err
    assert not (tmp_path / "dst").exists()


@pytest.mark.parametrize("config, message", [
    ({"rotation_rang": 3}, "unknown key 'rotation_rang'"),
    ({"rescale": 0.5}, "'rescale' in --config"),
    ({"rotation_range": "20"}, "'rotation_range' in --config"),
    ({"horizontal_flip": 1}, "'horizontal_flip' in --config"),
    ({"shard": 3}, "'shard' in --config"),
    ([1, 2], "must hold a JSON object"),
])
def test_config_errors(small_src, tmp_path, capsys, config, message):
    path = write_config(tmp_path / "c.json", config)
    assert main([small_src, str(tmp_path / "dst"), "--config", path]) == 2
    err = capsys.readouterr().err
    assert message in err
    if "key" in message:  # unknown keys: the valid ones are listed
        assert "valid keys: affine_convention, brightness_range, channel_shift_range" in err


def test_dask_scheduler_without_dask_is_a_usage_error(small_src, tmp_path, capsys,
                                                       monkeypatch):
    monkeypatch.setitem(sys.modules, "dask.distributed", None)  # import fails
    assert main([small_src, str(tmp_path / "dst"), "--dask-scheduler", "tcp://x:1"]) == 2
    assert "pip install 'fastkeras[dask]'" in capsys.readouterr().err


def test_unwritable_report_fails_the_run(small_src, tmp_path, capsys):
    (tmp_path / "file").write_text("x")
    report = str(tmp_path / "file" / "r.json")
    assert main([small_src, str(tmp_path / "dst"), "--copies", "1", "--report", report]) == 1
    assert "cannot write the report" in capsys.readouterr().err
    assert len(files_under(tmp_path / "dst")) == 2


def test_config_that_is_not_json(small_src, tmp_path, capsys):
    (tmp_path / "c.json").write_text("{rotation_range: 3")
    assert main([small_src, str(tmp_path / "dst"), "--config", str(tmp_path / "c.json")]) == 2
    assert "is not valid JSON" in capsys.readouterr().err
    assert main([small_src, str(tmp_path / "dst"), "--config", str(tmp_path / "none")]) == 2
    assert "No such file" in capsys.readouterr().err


@pytest.mark.parametrize("fmt, pillow", [("jpg", "JPEG"), ("webp", "WEBP"), ("bmp", "BMP"),
                                         ("tiff", "TIFF")])
def test_formats(tmp_path, capsys, fmt, pillow):
    src = write_tree(tmp_path / "src", {"k/a.png": (48, 64, "RGB"), "k/b.png": (48, 64, "RGB")})
    common = ["--copies", "2", "--rotation-range", "15", "--quiet"]
    assert main([src, str(tmp_path / "png"), *common]) == 0
    assert main([src, str(tmp_path / fmt), *common, "--format", fmt]) == 0
    for rel in expected_outputs({"k/a.png": 0, "k/b.png": 0}, 2, fmt):
        with Image.open(tmp_path / fmt / rel) as img:
            assert img.format == pillow
            actual = np.asarray(img.convert("RGB")).astype(int)
        with Image.open(tmp_path / "png" / (os.path.splitext(rel)[0] + ".png")) as img:
            lossless = np.asarray(img).astype(int)
        if fmt in ("bmp", "tiff"):
            assert np.array_equal(actual, lossless)
        else:  # lossy at quality 95: close to the same pixels
            assert np.abs(actual - lossless).mean() < 6


def test_target_size_grayscale_and_16_bit_sources(tmp_path, capsys):
    src = tmp_path / "src" / "g"
    os.makedirs(src)
    deep = (np.arange(12 * 10, dtype=np.uint16).reshape(12, 10) * 547)
    Image.fromarray(deep).save(src / "deep.png")  # a 16-bit grey PNG
    picture(1, 30, 40).save(src / "big.png")
    dst = tmp_path / "dst"
    assert main([str(tmp_path / "src"), str(dst), "--copies", "1", "--rotation-range", "0",
                 "--color-mode", "grayscale", "--quiet"]) == 0
    with Image.open(dst / "g" / "deep_aug0.png") as img:
        assert img.mode == "L"
        assert np.array_equal(np.asarray(img), np.rint(deep / 257.0).astype(np.uint8))
    assert main([str(tmp_path / "src"), str(tmp_path / "sized"), "--copies", "1",
                 "--rotation-range", "0", "--target-size", "8", "6", "--quiet"]) == 0
    with Image.open(tmp_path / "sized" / "g" / "big_aug0.png") as img:
        assert (img.mode, img.size) == ("RGB", (6, 8))
        resized = picture(1, 30, 40).resize((6, 8), Image.Resampling.NEAREST)
        assert np.array_equal(np.asarray(img), np.asarray(resized))


def test_overwrite_rewrites_identically(small_src, tmp_path, capsys):
    dst = tmp_path / "dst"
    report = tmp_path / "r.json"
    assert main([small_src, str(dst), "--copies", "2"]) == 0
    first = checksums(dst)
    (dst / "k" / "a_aug0.png").write_bytes(b"stale")
    assert main([small_src, str(dst), "--copies", "2", "--report", str(report)]) == 0
    assert json.loads(report.read_text())["skipped"] == 4
    assert main([small_src, str(dst), "--copies", "2", "--overwrite", "--report",
                 str(report)]) == 0
    assert json.loads(report.read_text())["written"] == 4
    assert checksums(dst) == first


def test_same_stem_sources_collide(tmp_path, capsys):
    src = write_tree(tmp_path / "src", {"k/a.png": (8, 8, "RGB"), "k/a.jpg": (8, 8, "RGB")})
    dst = tmp_path / "dst"
    assert main([src, str(dst), "--copies", "1"]) == 1
    err = capsys.readouterr().err
    assert "failed: k/a.png: its outputs would overwrite those of k/a.jpg" in err
    assert files_under(dst) == {os.path.join("k", "a_aug0.png")}


def test_stale_temporary_files_are_removed_and_others_kept(small_src, tmp_path):
    dst = tmp_path / "dst"
    os.makedirs(dst / "k")
    stale = dst / "k" / ".a_aug0.png.0123456789abcdef.part"
    foreign = dst / "k" / ".a_aug9.png.0123456789abcdef.part"  # not an output of this job
    other = dst / "k" / ".notes"
    for path in (stale, foreign, other):
        path.write_bytes(b"x")
    options = make_options({"copies": 2})
    plan = plan_job(small_src, str(dst), options)
    assert plan.stale == [str(stale)]
    report = augment_job.run_job(plan, workers=2)
    assert report["removed_partial"] == 1
    assert not stale.exists() and foreign.exists() and other.exists()


def test_image_seed_is_the_documented_hash():
    digest = hashlib.sha256("7/3/cats/a b.png".encode()).digest()
    expected = np.frombuffer(digest, "<u4")
    assert np.array_equal(augment_job.image_seed(7, "cats/a b.png", 3), expected)
    assert augment_job.output_name("cats/sub/x.y.jpeg", 4, "webp") == "cats/sub/x.y_aug4.webp"
    assert augment_job.output_name("top.PNG", 0, "png") == "top_aug0.png"


@settings(max_examples=25, deadline=None)
@given(count=st.integers(1, 9), copies=st.integers(1, 3))
def test_shards_partition_the_job(tmp_path_factory, count, copies):
    root = tmp_path_factory.getbasetemp() / "partition"
    if not root.exists():
        write_tree(root / "src")
    options = make_options({"copies": copies})
    plans = [plan_job(str(root / "src"), str(root / "dst"), options, (i, count))
             for i in range(count)]
    listed = [rel for plan in plans for rel in plan.listed]
    assert sorted(listed) == sorted(augment_job.list_sources(str(root / "src")))
    assert sum(plan.pending for plan in plans) == len(TREE) * copies
    assert [len(plan.listed) for plan in plans] == [
        len(range(i, len(TREE), count)) for i in range(count)]


def test_listing_order_and_rules(tmp_path):
    src = write_tree(tmp_path / "src")
    assert augment_job.list_sources(src) == [
        "top.png", "cats/a.png", "cats/b.jpg", "cats/c.png", "dogs/d.bmp", "dogs/sub/e.png"]


def test_make_options_errors_name_keywords():
    with pytest.raises(UsageError, match="rotation_range= must be >= 0"):
        make_options({"rotation_range": -1})
    with pytest.raises(UsageError, match="unknown setting"):
        make_options({"rescale": 2})
    assert make_options({}).augmentation["rotation_range"] == 20  # the preset
    assert make_options({"shear_range": 5}).augmentation["rotation_range"] == 0  # Keras default


def test_bundled_samples_are_what_make_samples_draws(tmp_path):
    spec = importlib.util.spec_from_file_location(
        "make_samples", os.path.join(REPO, "scripts", "make_samples.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    written = module.make_samples(str(tmp_path))
    assert len(written) == 12
    for path in written:
        rel = os.path.relpath(path, tmp_path)
        with Image.open(path) as fresh, Image.open(os.path.join(samples_dir(), rel)) as bundled:
            pixels = np.asarray(fresh)
            assert np.array_equal(pixels, np.asarray(bundled))
            assert not np.array_equal(pixels, pixels[:, ::-1])  # a flip shows
            assert not np.array_equal(pixels, pixels[::-1])


def test_dry_run_into_a_closed_pipe_exits_quietly(tmp_path):
    # `fastkeras-augment --dry-run | head -1`: the reader leaves after one line; the listing is far
    # longer than a pipe buffer, so the command meets a closed pipe and must stop with status 0.
    proc = subprocess.Popen(
        [sys.executable, "-m", "fastkeras.cli", str(samples_dir()), str(tmp_path / "out"),
         "--dry-run", "--copies", "400"],
        cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    first = proc.stdout.readline()
    proc.stdout.close()
    err = proc.stderr.read().decode()
    assert proc.wait(timeout=120) == 0, err
    assert first.strip() and "Broken pipe" not in err and "Traceback" not in err


def test_progress_rate_counts_from_the_given_start(capsys):
    from fastkeras.cli import _progress_bar

    update = _progress_bar(2, "shard", quiet=False, start=time.perf_counter() - 10.0)
    update(2, 50)  # 50 images in about 10 s, whatever the moment the bar was made
    rate = float(re.search(r"images/s: ([0-9.]+)", capsys.readouterr().err).group(1))
    assert 4.5 < rate <= 5.0
