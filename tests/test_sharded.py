"""Sharded checkpoints as Hugging Face writes them (model-0000i-of-0000n.safetensors and
model.safetensors.index.json): fit, compare, pack and unpack read the folder or its index, tensor names
keep their source's names, --tensors selects across shards, and a bad index is a clear error."""
import json

import ml_dtypes
import numpy as np
import pytest

import rf8lab as rl
from rf8lab.cli import main as cli
from rf8lab.io import checkpoints, safetensors
from rf8lab.io.files import CheckpointError, sha256
from rf8lab.io.pack import unpack


def _tensors(seed=0):
    rng = np.random.default_rng(seed)
    t = {}
    for i in range(3):
        t[f"model.layers.{i}.self_attn.q_proj.weight"] = rng.normal(0, 0.02, (48, 64)).astype(ml_dtypes.bfloat16)
        t[f"model.layers.{i}.mlp.up_proj.weight"] = rng.laplace(0, 0.02, (96, 48)).astype(np.float32)
        t[f"model.layers.{i}.input_layernorm.weight"] = (1 + rng.normal(0, 0.05, 64)).astype(np.float32)
    return t


def _sharded(folder, tensors, shards=2):
    folder.mkdir(parents=True, exist_ok=True)
    names = list(tensors)
    parts = [names[i::shards] for i in range(shards)]
    wmap = {}
    for i, part in enumerate(parts, 1):
        fname = f"model-{i:05d}-of-{shards:05d}.safetensors"
        safetensors.write(folder / fname, {n: tensors[n] for n in part})
        wmap.update({n: fname for n in part})
    index = {"metadata": {"total_size": sum(a.nbytes for a in tensors.values())}, "weight_map": wmap}
    (folder / "model.safetensors.index.json").write_text(json.dumps(index))
    return folder


def test_a_folder_and_its_index_read_every_tensor_by_its_name(tmp_path):
    t = _tensors()
    folder = _sharded(tmp_path / "llm", t)
    for source in (folder, folder / "model.safetensors.index.json"):
        got = checkpoints.load(source)
        assert set(got) == set(t)
        for n in t:
            assert got[n].dtype == t[n].dtype and np.array_equal(got[n].view(np.uint8), t[n].view(np.uint8))
    picked = checkpoints.load(folder, "*.q_proj.weight,*.layers.2.mlp.*")
    assert sorted(picked) == sorted([f"model.layers.{i}.self_attn.q_proj.weight" for i in range(3)]
                                    + ["model.layers.2.mlp.up_proj.weight"])
    single = tmp_path / "one"
    single.mkdir()
    safetensors.write(single / "model.safetensors", t)
    assert set(checkpoints.load(single)) == set(t)


def test_the_checkpoint_hash_is_the_hash_of_its_sha256sum_listing(tmp_path):
    import hashlib
    folder = _sharded(tmp_path / "llm", _tensors())
    d = checkpoints.describe(folder)
    files = checkpoints.files(folder)
    listing = "".join(f"{sha256(p)}  {p.name}\n" for p in files)
    assert d["sha256"] == hashlib.sha256(listing.encode()).hexdigest() and len(d["files"]) == 2
    assert d["bytes"] == sum(p.stat().st_size for p in files)


def test_fit_and_compare_read_a_sharded_folder(tmp_path, capsys):
    folder = _sharded(tmp_path / "llm", _tensors())
    assert cli(["fit", str(folder), "-o", str(tmp_path / "fit"), "--workers", "1"]) == 0
    run = json.loads((tmp_path / "fit" / "fits.json").read_text())
    assert len(run["tensors"]) == 9 and len(run["checkpoint"]["files"]) == 2
    assert "in 2 files" in (tmp_path / "fit" / "report.md").read_text()
    assert cli(["compare", str(folder / "model.safetensors.index.json"), "-o", str(tmp_path / "cmp"),
                "--formats", "rf8,e4m3", "--tensors", "*.q_proj.weight"]) == 0
    assert "2 files" in (tmp_path / "cmp" / "report.md").read_text()


def test_a_sharded_checkpoint_packs_to_packed_shards_with_their_own_index(tmp_path, capsys):
    t = _tensors()
    folder = _sharded(tmp_path / "llm", t)
    out = tmp_path / "packed"
    assert cli(["pack", str(folder), "-o", str(out), "--fmt", "rf8"]) == 0
    index = json.loads((out / "model.safetensors.index.json").read_text())
    assert sorted({p.name for p in out.iterdir()}) == sorted(
        ["model-00001-of-00002.safetensors", "model-00002-of-00002.safetensors", "model.safetensors.index.json"])
    assert index["weight_map"]["model.layers.0.self_attn.q_proj.weight.scale_exp"] in (
        "model-00001-of-00002.safetensors", "model-00002-of-00002.safetensors")
    back = unpack(out, tmp_path / "unpacked")
    for n, a in t.items():
        want = rl.quantize(a, "rf8", scale="channel") if a.ndim == 2 else a
        assert back[n].dtype == a.dtype and np.array_equal(np.asarray(back[n], np.float32),
                                                           np.asarray(want, np.float32)), n
    assert set(checkpoints.load(tmp_path / "unpacked")) == set(t)
    # packing again replaces the packed folder whole; a failed pack leaves it as it was
    before = sha256(out / "model-00001-of-00002.safetensors")
    assert cli(["pack", str(folder), "-o", str(out), "--fmt", "rf8", "--tensors", "nothing.*"]) == 1
    assert sha256(out / "model-00001-of-00002.safetensors") == before
    assert not [p for p in tmp_path.iterdir() if ".tmp" in p.name or ".old" in p.name]
    assert cli(["pack", str(folder), "-o", str(out), "--fmt", "e4m3"]) == 0
    assert sha256(out / "model-00001-of-00002.safetensors") != before


@pytest.mark.parametrize("damage,match", [
    (lambda f, ix: ix.update(weight_map={**ix["weight_map"], "extra": "model-00001-of-00002.safetensors"}),
     "holds other tensors"),
    (lambda f, ix: ix.update(weight_map={k: "../x.safetensors" for k in ix["weight_map"]}), "not a file name"),
    (lambda f, ix: (f / "model-00002-of-00002.safetensors").unlink(), "is missing"),
    (lambda f, ix: ix.update(weight_map={}), "non-empty"),
    (lambda f, ix: ix.update(weight_map={k: "w.onnx" for k in ix["weight_map"]}), "is missing|unknown type"),
])
def test_a_bad_index_is_a_clear_error_and_leaves_no_output(tmp_path, capsys, damage, match):
    folder = _sharded(tmp_path / "llm", _tensors())
    ix_path = folder / "model.safetensors.index.json"
    ix = json.loads(ix_path.read_text())
    damage(folder, ix)
    ix_path.write_text(json.dumps(ix))
    with pytest.raises(CheckpointError, match=match):
        checkpoints.load(folder)
    assert cli(["fit", str(folder), "-o", str(tmp_path / "fit")]) == 1
    err = capsys.readouterr().err
    assert err.startswith("error: ") and err.count("\n") == 1
    assert not (tmp_path / "fit").exists()


def test_a_folder_of_several_checkpoints_reads_what_transformers_reads(tmp_path):
    folder = _sharded(tmp_path / "llm", _tensors())
    (folder / "other.safetensors.index.json").write_text("{}")  # beside model.safetensors.index.json
    (folder / "optimizer.pt").write_bytes(b"not read")  # a Trainer folder's other files
    assert checkpoints.files(folder) == checkpoints.files(folder / "model.safetensors.index.json")
    (folder / "model.safetensors.index.json").rename(folder / "a.safetensors.index.json")
    with pytest.raises(CheckpointError, match="2 index files"):  # no name transformers reads: ambiguous
        checkpoints.load(folder)


def test_a_tensor_in_two_shards_is_refused(tmp_path):
    folder = tmp_path / "llm"
    folder.mkdir()
    safetensors.write(folder / "a.safetensors", {"w": np.ones((2, 2), np.float32)})
    safetensors.write(folder / "b.safetensors", {"w": np.zeros((2, 2), np.float32)})
    (folder / "model.safetensors.index.json").write_text(json.dumps({"weight_map": {"w": "a.safetensors",
                                                                                   "w2": "b.safetensors"}}))
    with pytest.raises(CheckpointError):
        checkpoints.load(folder)
    with pytest.raises(CheckpointError, match="2 checkpoint files"):
        (folder / "model.safetensors.index.json").unlink()
        checkpoints.load(folder)


def test_the_writer_streams_without_a_bytes_copy(tmp_path):
    """safetensors.write sends each array to the file as it is: writing 64 MiB allocates far less than 64 MiB
    (tracemalloc sees numpy's buffers), and the reference package reads the file back equal."""
    import tracemalloc

    from safetensors.numpy import load_file
    big = np.random.default_rng(0).standard_normal((4096, 4096)).astype(np.float32)
    odd = np.arange(12, dtype=">f4").reshape(3, 4).T  # big-endian and not contiguous: converted alone
    tracemalloc.start()
    safetensors.write(tmp_path / "w.safetensors", {"big": big, "odd": odd})
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert peak < 4 * 2 ** 20, peak
    back = load_file(tmp_path / "w.safetensors")
    assert np.array_equal(back["big"], big) and np.array_equal(back["odd"], odd.astype(np.float32))


def test_low_precision_tensors_are_fitted_from_their_histogram_without_a_float64_copy():
    """A bfloat16 tensor's row equals the float path's where both use every value (the GG fit, counts,
    spread, the four-model comparison), and analyzing 4M values allocates far less than their float64 copy."""
    import tracemalloc

    from rf8lab.reports.fit import analyze
    rng = np.random.default_rng(3)
    small = rng.laplace(0, 0.02, (256, 256)).astype(ml_dtypes.bfloat16)
    small[0, :7] = 0
    hist = analyze("layer.0.mlp.up.weight", small, 10 ** 6, 0)
    flat = analyze("layer.0.mlp.up.weight", small.astype(np.float32), 10 ** 6, 0)
    for key in ("n", "zeros", "distinct", "outliers_10sd", "n_compared", "best"):
        assert hist[key] == flat[key], key
    for key in ("gg_shape", "gg_scale"):
        assert hist[key] == pytest.approx(flat[key], rel=1e-9), key
    assert hist["std"] == pytest.approx(flat["std"], rel=1e-6)
    for m in ("gaussian", "laplace", "student_t", "gg"):
        assert hist[f"{m}_d_aic"] == pytest.approx(flat[f"{m}_d_aic"], rel=1e-6, abs=1e-6)
    big = rng.normal(0, 0.02, 1 << 22).astype(ml_dtypes.bfloat16)
    tracemalloc.start()
    row = analyze("layer.1.attn.q.weight", big, 100_000, 0)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert row["n"] == 1 << 22 and row["n_compared"] == (1 << 22) - int((big == 0).sum())  # every value
    assert peak < (1 << 22) * 8 // 2, peak  # under half of one float64 copy
