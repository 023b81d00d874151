"""Image inventories: layers in order, with whiteouts and opaque directories applied."""

from __future__ import annotations

from tests.unit.scanning.helpers import gz, index, tar_bytes
from wharf.scanning.model import LayerInventory, merge_layers

SITE = "usr/lib/python3/site-packages"


def _meta(name: str, version: str) -> bytes:
    return f"Name: {name}\nVersion: {version}\n".encode()


def test_whiteout_of_a_dist_info_dir_removes_the_package() -> None:
    base = index(gz(tar_bytes({f"{SITE}/requests-2.19.0.dist-info/METADATA":
                               _meta("requests", "2.19.0"),
                               f"{SITE}/idna-2.7.dist-info/METADATA": _meta("idna", "2.7")})))
    upper = index(gz(tar_bytes({f"{SITE}/.wh.requests-2.19.0.dist-info": b"",
                                f"{SITE}/requests-2.31.0.dist-info/METADATA":
                                    _meta("requests", "2.31.0")})))
    assert upper.whiteouts == [f"{SITE}/requests-2.19.0.dist-info"]
    image = merge_layers([base, upper])
    assert {(p.name, p.version) for p in image.packages} == {("requests", "2.31.0"),
                                                              ("idna", "2.7")}


def test_rewritten_database_replaces_the_lower_one() -> None:
    status = b"Package: curl\nVersion: 7.88.1-10\n\nPackage: wget\nVersion: 1.21\n"
    base = index(tar_bytes({"var/lib/dpkg/status": status}))
    upper = index(tar_bytes({"var/lib/dpkg/status": b"Package: wget\nVersion: 1.21\n"}))
    image = merge_layers([base, upper])
    assert [p.name for p in image.packages] == ["wget"]


def test_opaque_directory_hides_lower_content_only() -> None:
    base = index(tar_bytes({f"{SITE}/a-1.dist-info/METADATA": _meta("a", "1"),
                            "etc/os-release": b"ID=debian\nVERSION_ID=12\n"}))
    upper = index(tar_bytes({f"{SITE}/.wh..wh..opq": b"",
                             f"{SITE}/b-2.dist-info/METADATA": _meta("b", "2")}))
    assert upper.opaque_dirs == [SITE]
    image = merge_layers([base, upper])
    assert [p.name for p in image.packages] == ["b"]
    assert image.os_release is not None


def test_whiteout_of_a_parent_directory_and_os_release() -> None:
    base = index(tar_bytes({"usr/lib/node_modules/lodash/package.json":
                            b'{"name": "lodash", "version": "4.17.15"}',
                            "etc/os-release": b"ID=alpine\nVERSION_ID=3.19.0\n"}))
    upper = index(tar_bytes({"usr/lib/.wh.node_modules": b"", "etc/.wh.os-release": b""}))
    image = merge_layers([base, upper])
    assert image.packages == []
    assert image.os_release is None


def test_failed_layers_are_reported_and_the_rest_still_counts() -> None:
    good = index(tar_bytes({f"{SITE}/a-1.dist-info/METADATA": _meta("a", "1")}))
    image = merge_layers([good, LayerInventory("failed", "decompression bomb")])
    assert [p.name for p in image.packages] == ["a"]
    assert image.failures == ["layer 1: decompression bomb"]


def test_inventory_json_round_trip() -> None:
    inv = index(gz(tar_bytes({f"{SITE}/a-1.dist-info/METADATA": _meta("a", "1"),
                              "etc/os-release": b"ID=debian\nVERSION_ID=12\n",
                              f"{SITE}/.wh.gone": b""})))
    again = LayerInventory.from_json(inv.to_json())
    assert again.packages == inv.packages
    assert again.os_release == inv.os_release
    assert again.whiteouts == inv.whiteouts
