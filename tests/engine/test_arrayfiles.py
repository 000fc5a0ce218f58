"""engine.arrayfiles: headers are checked against the stored bytes before anything is allocated."""

from __future__ import annotations

import io
import zipfile

import numpy as np
import pytest

from mbp_verify.engine.arrayfiles import read_npy, read_npz
from mbp_verify.errors import InputError


def _npy_bytes(header: dict, data: bytes) -> bytes:
    buffer = io.BytesIO()
    np.lib.format.write_array_header_1_0(buffer, header)
    return buffer.getvalue() + data


@pytest.mark.parametrize("save", [np.savez, np.savez_compressed])
def test_npz_arrays_come_back_bit_exact_in_archive_order(tmp_path, save):
    rng = np.random.default_rng(0)
    arrays = {"W2": rng.normal(size=(3, 4)), "W1": rng.normal(size=(4, 5)).astype(np.float16), "b": np.arange(3)}
    save(tmp_path / "a.npz", **arrays)
    read = read_npz(tmp_path / "a.npz")
    assert list(read) == ["W2", "W1", "b"]
    for name, array in arrays.items():
        assert read[name].dtype == array.dtype and np.array_equal(read[name], array)


def test_npy_round_trip(tmp_path):
    array = np.random.default_rng(1).normal(size=(6, 2))
    np.save(tmp_path / "a.npy", array)
    assert np.array_equal(read_npy(tmp_path / "a.npy"), array)


@pytest.mark.parametrize("shape", [(10**6, 10**6), (10**9, 10**9), (100_000, 100_000), (9,)])
def test_a_header_declaring_more_than_the_file_holds_is_refused(tmp_path, shape):
    # np.load would allocate the declared array first: 8 TB for (10**6, 10**6), a MemoryError
    content = _npy_bytes({"descr": "<f8", "fortran_order": False, "shape": shape}, bytes(64))
    (tmp_path / "a.npy").write_bytes(content)
    with zipfile.ZipFile(tmp_path / "a.npz", "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("W1.npy", content)
    for reader, file in ((read_npy, "a.npy"), (read_npz, "a.npz")):
        with pytest.raises(InputError, match=r"the header declares shape .* at most 64 bytes of data"):
            reader(tmp_path / file)


@pytest.mark.parametrize(
    "header, message",
    [
        ({"descr": "<f8", "fortran_order": False, "shape": (-1, 5)}, "negative dimension"),
        ({"descr": "|O", "fortran_order": False, "shape": (2,)}, "stores Python objects"),
    ],
)
def test_negative_dimensions_and_objects_are_refused(tmp_path, header, message):
    (tmp_path / "a.npy").write_bytes(_npy_bytes(header, bytes(64)))
    with pytest.raises(InputError, match=message):
        read_npy(tmp_path / "a.npy")


def test_a_repeated_member_and_a_foreign_member_are_refused(tmp_path):
    one = io.BytesIO()
    np.save(one, np.ones((2, 2)))
    with zipfile.ZipFile(tmp_path / "twice.npz", "w") as archive, pytest.warns(UserWarning):
        archive.writestr("W1.npy", one.getvalue())
        archive.writestr("W1.npy", one.getvalue())
    with pytest.raises(InputError, match="repeats the member 'W1.npy'"):
        read_npz(tmp_path / "twice.npz")
    with zipfile.ZipFile(tmp_path / "torch.npz", "w") as archive:
        archive.writestr("net/data.pkl", b"\x80\x02}q\x00.")
    with pytest.raises(InputError, match=r"member 'net/data.pkl' is not a .npy array \(it looks like a PyTorch file\)"):
        read_npz(tmp_path / "torch.npz", "network")
