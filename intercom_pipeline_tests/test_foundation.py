"""Foundation behaviour: settings, atomic private files, partition paths, pseudonyms, layering."""

from __future__ import annotations

import ast
import stat
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from intercom_pipeline import erasure_registry, pseudonyms, settings, storage

PACKAGE = Path(__file__).resolve().parents[1] / "intercom_pipeline"


@pytest.mark.parametrize(
    ("region", "expected"),
    [("us", "https://api.intercom.io"), ("EU", "https://api.eu.intercom.io"), ("au", "https://api.au.intercom.io")],
)
def test_region_maps_to_its_host(region: str, expected: str) -> None:
    assert settings.connection_settings({"INTERCOM_REGION": region}).base_url == expected


def test_base_url_overrides_region_and_version_defaults_to_2_11() -> None:
    conn = settings.connection_settings({"INTERCOM_REGION": "eu", "INTERCOM_BASE_URL": "http://127.0.0.1:9/"})
    assert conn.base_url == "http://127.0.0.1:9"
    assert conn.version == "2.11"
    assert conn.uses_emulator


def test_unknown_region_names_the_variable() -> None:
    with pytest.raises(settings.SettingsError, match="INTERCOM_REGION"):
        settings.connection_settings({"INTERCOM_REGION": "mars"})


def test_private_write_is_0600_and_atomic_on_crash(tmp_path: Path) -> None:
    target = tmp_path / "a" / "subject.json"
    storage.write_json(target, {"ok": 1}, private=True)
    assert stat.S_IMODE(target.stat().st_mode) == 0o600

    with pytest.raises(RuntimeError), storage.atomic_path(target, private=True) as tmp:
        tmp.write_text("half a fil")
        raise RuntimeError("crash mid-write")
    assert storage.read_json(target) == {"ok": 1}
    assert [p.name for p in target.parent.iterdir()] == ["subject.json"]


def test_atomic_dir_replaces_whole_folder_only_on_success(tmp_path: Path) -> None:
    target = tmp_path / "pkg"
    with storage.atomic_dir(target, private=True) as tmp:
        (tmp / "one.json").write_text("1")
    assert stat.S_IMODE(target.stat().st_mode) == 0o700
    with pytest.raises(ValueError), storage.atomic_dir(target, private=True) as tmp:
        (tmp / "two.json").write_text("2")
        raise ValueError("crash")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["pkg"]
    assert [p.name for p in target.iterdir()] == ["one.json"]


def test_partition_dir_puts_workspace_first(tmp_path: Path) -> None:
    path = storage.partition_dir(tmp_path, "exports/contacts", "abc123", date="2026-11-22")
    assert path.relative_to(tmp_path).parts == ("exports", "contacts", "workspace=abc123", "date=2026-11-22")
    with pytest.raises(ValueError, match="workspace_id"):
        storage.partition_dir(tmp_path, "x", "")


def test_subject_hash_is_salted_case_insensitive_and_stable(tmp_path: Path) -> None:
    one = pseudonyms.subject_hash("Ana.Ruiz@Example.com", tmp_path / "a")
    assert one == pseudonyms.subject_hash("ana.ruiz@example.com ", tmp_path / "a")
    assert one != pseudonyms.subject_hash("ana.ruiz@example.com", tmp_path / "b")
    assert "ana" not in one
    assert stat.S_IMODE((tmp_path / "a" / ".salt").stat().st_mode) == 0o600


def test_erase_parquet_rows_rewrites_only_files_holding_the_contacts(tmp_path: Path) -> None:
    schema = pa.schema([("contact_id", pa.string()), ("n", pa.int64())])
    keep = storage.write_parquet(tmp_path / "keep.parquet", pa.table({"contact_id": ["a"], "n": [1]}, schema=schema))
    mixed = storage.write_parquet(
        tmp_path / "mixed.parquet", pa.table({"contact_id": ["a", "b", None], "n": [1, 2, 3]}, schema=schema)
    )
    only = storage.write_parquet(tmp_path / "only.parquet", pa.table({"contact_id": ["b"], "n": [2]}, schema=schema))
    changed = erasure_registry.erase_parquet_rows([keep, mixed, only], "contact_id", frozenset({"b"}), private=True)
    assert changed == [mixed, only]
    assert not only.exists()
    assert pq.read_table(mixed).column("n").to_pylist() == [1, 3]
    assert pq.read_table(mixed).schema == schema
    assert stat.S_IMODE(mixed.stat().st_mode) == 0o600


def _imports(package: str) -> set[str]:
    found: set[str] = set()
    for path in (PACKAGE / package).rglob("*.py"):
        found |= _module_imports(str(path.relative_to(PACKAGE)))
    return found


def _module_imports(module_path: str) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(ast.parse((PACKAGE / module_path).read_text())):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
    return found


def test_client_imports_no_dagster_and_fake_imports_no_client() -> None:
    assert not {name for name in _imports("intercom") if name.split(".")[0] == "dagster"}
    assert not {name for name in _imports("emulator") if name.startswith("intercom_pipeline.intercom")}
    for domain in ("privacy", "detection", "discovery", "exports", "tables"):
        assert not {name for name in _imports(domain) if name.split(".")[0] == "dagster"}, domain


def test_fake_backend_knows_no_routes_and_no_http() -> None:
    # moto's layering: state raises plain errors and never learns which routes reach it.
    below_http = _imports("emulator/state") | _imports("emulator/generator")
    for name in ("emulator/errors.py", "emulator/search.py", "emulator/search_columns.py", "emulator/pagination.py",
                 "emulator/serialize.py"):
        below_http |= _module_imports(name)
    assert not {name for name in below_http if name.split(".")[0] == "starlette"}
    assert not {name for name in below_http if name.startswith("intercom_pipeline.emulator.rout")}


def test_cli_lists_every_subcommand(capsys: pytest.CaptureFixture[str]) -> None:
    from intercom_pipeline.cli import main as cli

    with pytest.raises(SystemExit):
        cli.main(["--help"])
    out = capsys.readouterr().out
    for command in ("emulator", "check-connection", "connect", "access", "delete", "audit", "demo", "ui"):
        assert command in out
