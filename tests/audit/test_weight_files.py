"""Weight files: every format read exactly, dtypes recorded, and every bad file a clear InputError."""

from __future__ import annotations

import json
import pickle
import struct
import sys
import zipfile

import numpy as np
import pytest

from mbp_verify.audit import audit_weights, detect_format, load_weight_file
from mbp_verify.errors import InputError
from mbp_verify.seeding import rng_for

from .files import bfloat16_grid, write_safetensors


class _Marker:
    """Unpickling this creates a file: proof that a pickle was (or was not) executed."""

    def __init__(self, path):
        self.path = path

    def __reduce__(self):
        return (open, (str(self.path), "w"))


@pytest.fixture
def rng():
    return rng_for(7, "tests.audit.weight_files")


def _tensors(weights):
    return {t.name: t for t in weights.tensors}


def test_npz_keeps_order_values_and_stored_dtypes(tmp_path, rng):
    arrays = {
        "W2": rng.uniform(-1, 1, (3, 4)).astype(np.float16),
        "W1": rng.uniform(-1, 1, (4, 5)).astype(np.float32),
        "steps": np.arange(3),
    }
    np.savez(tmp_path / "w.npz", **arrays)
    weights = load_weight_file(tmp_path / "w.npz")
    assert weights.format == "npz" and weights.names == ("W2", "W1", "steps")
    tensors = _tensors(weights)
    assert tensors["W2"].stored_dtype == "float16" and tensors["W2"].array.dtype == np.float64
    assert np.array_equal(tensors["W2"].array, arrays["W2"].astype(np.float64))
    assert tensors["steps"].stored_dtype == "int64" and not tensors["steps"].is_float


def test_npy_is_one_tensor_named_after_the_file(tmp_path, rng):
    np.save(tmp_path / "layer.npy", rng.standard_normal((6, 2)))
    weights = load_weight_file(tmp_path / "layer.npy")
    assert weights.format == "npy" and weights.names == ("layer",) and weights.tensors[0].shape == (6, 2)


def test_safetensors_all_float_dtypes_and_bfloat16_bit_exact(tmp_path, rng):
    exact = bfloat16_grid((5, 3), rng)
    path = write_safetensors(
        tmp_path / "m.safetensors",
        {
            "a.weight": ("BF16", exact),
            "b.weight": rng.uniform(-1, 1, (3, 5)).astype(np.float16),
            "c.weight": rng.standard_normal((2, 3)),
            "count": np.array([4], dtype=np.int64),
        },
    )
    weights = load_weight_file(path)
    tensors = _tensors(weights)
    assert weights.format == "safetensors"
    assert tensors["a.weight"].stored_dtype == "bfloat16"
    assert np.array_equal(tensors["a.weight"].array, exact.astype(np.float64))
    assert tensors["b.weight"].stored_dtype == "float16" and tensors["c.weight"].stored_dtype == "float64"
    assert tensors["count"].array.tolist() == [4]


def test_safetensors_dtype_numpy_cannot_hold_is_skipped_with_a_note(tmp_path):
    header = {
        "w": {"dtype": "F64", "shape": [2, 2], "data_offsets": [0, 32]},
        "q": {"dtype": "F8_E4M3", "shape": [4], "data_offsets": [32, 36]},
    }
    text = json.dumps(header).encode()
    text += b" " * (-len(text) % 8)
    (tmp_path / "f8.safetensors").write_bytes(struct.pack("<Q", len(text)) + text + np.eye(2).tobytes() + bytes(4))
    weights = load_weight_file(tmp_path / "f8.safetensors")
    assert weights.names == ("w",) and weights.notes == ("q: dtype F8_E4M3 is not supported by the audit; skipped",)


def test_format_comes_from_the_bytes_not_the_name(tmp_path, rng):
    with open(tmp_path / "weights.pt", "wb") as handle:  # np.savez would append .npz to a path
        np.savez(handle, W1=rng.standard_normal((2, 2)))
    write_safetensors(tmp_path / "weights.bin", {"w": rng.standard_normal((2, 2))})
    assert detect_format(tmp_path / "weights.pt") == "npz"
    assert detect_format(tmp_path / "weights.bin") == "safetensors"


@pytest.mark.parametrize(
    "make, message",
    [
        (lambda p: p.write_bytes(b""), "is empty"),
        (lambda p: p.write_bytes(b"hello, I am not weights at all"), "not a recognised weight file"),
        (lambda p: p.write_bytes(b"PK\x03\x04 broken zip"), "cannot be read"),
        (lambda p: zipfile.ZipFile(p, "w").writestr("notes.txt", "x"), "neither .npz nor a PyTorch"),
        (lambda p: p.write_bytes(b"\x93NUMPY\x01\x00garbage"), "cannot read"),
    ],
)
def test_unreadable_files_raise_input_error(tmp_path, make, message):
    path = tmp_path / "bad.weights"
    make(path)
    with pytest.raises(InputError, match=message):
        load_weight_file(path)


def test_missing_file(tmp_path):
    with pytest.raises(InputError, match="does not exist"):
        load_weight_file(tmp_path / "nope.npz")


def test_truncated_npz_and_safetensors(tmp_path, rng):
    np.savez(tmp_path / "w.npz", W1=rng.standard_normal((50, 50)))
    data = (tmp_path / "w.npz").read_bytes()
    (tmp_path / "cut.npz").write_bytes(data[: len(data) // 2])
    with pytest.raises(InputError):
        load_weight_file(tmp_path / "cut.npz")
    write_safetensors(tmp_path / "w.safetensors", {"w": rng.standard_normal((50, 50))})
    data = (tmp_path / "w.safetensors").read_bytes()
    (tmp_path / "cut.safetensors").write_bytes(data[:-100])
    with pytest.raises(InputError, match="safetensors"):
        load_weight_file(tmp_path / "cut.safetensors")


def test_npz_with_object_arrays_is_refused_without_unpickling(tmp_path):
    np.savez(tmp_path / "obj.npz", W1=np.array([{"a": 1}, None], dtype=object))
    with pytest.raises(InputError, match="cannot read"):
        load_weight_file(tmp_path / "obj.npz")


def test_pickle_without_torch_is_a_clear_error_and_never_unpickled(tmp_path, monkeypatch):
    marker = tmp_path / "executed"
    path = tmp_path / "model.pt"
    path.write_bytes(pickle.dumps({"fc.weight": _Marker(marker)}, protocol=2))
    monkeypatch.setitem(sys.modules, "torch", None)  # `import torch` now raises ImportError
    with pytest.raises(InputError, match="needs torch"):
        load_weight_file(path)
    assert not marker.exists()


@pytest.mark.torch
def test_torch_refuses_arbitrary_pickles_with_weights_only(tmp_path):
    pytest.importorskip("torch")
    marker = tmp_path / "executed"
    path = tmp_path / "model.pt"
    path.write_bytes(pickle.dumps({"fc.weight": _Marker(marker)}, protocol=2))
    with pytest.raises(InputError, match="weights_only"):
        load_weight_file(path)
    assert not marker.exists()


@pytest.mark.torch
@pytest.mark.parametrize("zip_format", [True, False])
def test_torch_state_dicts_zip_and_legacy_bfloat16_and_nesting(tmp_path, rng, zip_format):
    torch = pytest.importorskip("torch")
    exact = bfloat16_grid((4, 3), rng)
    checkpoint = {
        "state_dict": {
            "fc1.weight": torch.tensor(exact, dtype=torch.bfloat16),
            "fc1.bias": torch.zeros(4),
            "fc2.weight": torch.tensor(rng.standard_normal((2, 4))),
        },
        "epoch": 3,
    }
    torch.save(checkpoint, tmp_path / "ckpt.pth", _use_new_zipfile_serialization=zip_format)
    weights = load_weight_file(tmp_path / "ckpt.pth")
    tensors = _tensors(weights)
    assert weights.format == "torch"
    assert list(tensors) == ["state_dict.fc1.weight", "state_dict.fc1.bias", "state_dict.fc2.weight"]
    assert tensors["state_dict.fc1.weight"].stored_dtype == "bfloat16"
    assert np.array_equal(tensors["state_dict.fc1.weight"].array, exact.astype(np.float64))
    assert any("epoch" in note for note in weights.notes)


@pytest.mark.torch
def test_corrupt_torch_zip(tmp_path):
    torch = pytest.importorskip("torch")
    torch.save({"w": torch.zeros(3, 3)}, tmp_path / "m.pt")
    data = (tmp_path / "m.pt").read_bytes()
    (tmp_path / "cut.pt").write_bytes(data[: len(data) // 2])
    with pytest.raises(InputError):
        load_weight_file(tmp_path / "cut.pt")


@pytest.mark.torch
def test_a_file_whose_every_tensor_is_skipped_says_why(tmp_path):
    torch = pytest.importorskip("torch")
    torch.save({"w": torch.ones(8, 4).to_sparse(), "z": torch.ones(2, 2, dtype=torch.complex64)}, tmp_path / "s.pt")
    # the sparse tensor was reported as "dtype float32 is not supported" and the error said only "holds no tensors"
    with pytest.raises(InputError, match=r"holds no tensors that can be read: w: sparse_coo tensor .*; z: complex"):
        load_weight_file(tmp_path / "s.pt")


def test_a_file_that_cannot_be_opened_is_an_input_error(tmp_path, monkeypatch):
    # as root, mode 000 is still readable: the refusal of open() is simulated (it was a PermissionError traceback)
    import mbp_verify.audit.weight_files as module

    np.savez(tmp_path / "w.npz", W1=np.ones((2, 2)))

    def refuse(*args, **kwargs):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(module, "open", refuse, raising=False)
    with pytest.raises(InputError, match=r"cannot read weight file .*w\.npz': Permission denied"):
        load_weight_file(tmp_path / "w.npz")


def test_extended_precision_weights_are_floating_point_and_audited(tmp_path, rng):
    """Pinned: float128 (long double) matrices were skipped as "float128 tensor, not
    floating-point weights", so a file of them was refused as holding no weight matrices."""
    values = rng.uniform(-1, 1, (16, 12))
    np.savez(tmp_path / "ld.npz", W=values.astype(np.longdouble))
    weights = load_weight_file(tmp_path / "ld.npz")
    tensor = _tensors(weights)["W"]
    assert tensor.stored_dtype == np.dtype(np.longdouble).name and tensor.is_float
    assert np.array_equal(tensor.array, values)  # float64 values survive the round trip exactly
    report = audit_weights(weights, alpha=None, seed=1)
    assert [layer.name for layer in report.layers] == ["W"]
