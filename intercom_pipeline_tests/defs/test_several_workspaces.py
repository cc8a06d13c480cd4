"""Several Intercom workspaces as configuration: a second code location ``defs_<name>``.

Hard cases first: a second location must not collide with the first (asset keys, checks, deps,
the change sensor), must read its own variables only, and both must load side by side.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import dagster as dg
import pytest

from intercom_pipeline import definitions, settings
from intercom_pipeline.defs.common import LocationSettings
from intercom_pipeline.defs.resources import IntercomResource

REPO = Path(__file__).resolve().parents[2]


def _clean_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("INTERCOM_")}
    env.update(extra)
    return env


def test_named_connection_reads_only_its_own_variables():
    env = {"INTERCOM_ACCESS_TOKEN": "default-token", "INTERCOM_REGION": "au", "INTERCOM_BASE_URL": "http://a",
           "INTERCOM_EU_ACCESS_TOKEN": "eu-token", "INTERCOM_EU_REGION": "EU"}
    eu = settings.named_connection_settings("eu", env)
    assert (eu.token, eu.region, eu.base_url, eu.version) == ("eu-token", "eu", "https://api.eu.intercom.io", "2.11")
    default = settings.named_connection_settings("", env)
    assert default == settings.connection_settings(env)
    # a named connection without its own variables never borrows the default's token
    assert settings.named_connection_settings("second", env).uses_emulator
    assert settings.connection_env_names("eu")["access_token"] == "INTERCOM_EU_ACCESS_TOKEN"
    with pytest.raises(settings.SettingsError, match="INTERCOM_EU_REGION"):
        settings.named_connection_settings("eu", {"INTERCOM_EU_REGION": "mars"})
    for bad in ("EU", "1eu", "eu-west", "eu/x"):
        with pytest.raises(settings.SettingsError, match="connection name"):
            settings.connection_name(bad)


def test_resource_uses_the_connection_variables(monkeypatch):
    monkeypatch.setenv("INTERCOM_BASE_URL", "http://default.invalid")
    monkeypatch.setenv("INTERCOM_EU_BASE_URL", "http://eu.invalid")
    monkeypatch.setenv("INTERCOM_EU_VERSION", "2.12")
    config = IntercomResource(access_token="t", connection="eu").client_config()
    assert (config.base_url, config.version) == ("http://eu.invalid", "2.12")


def test_second_location_in_its_own_process_prefixes_every_key():
    script = textwrap.dedent("""
        import importlib, json
        module = importlib.import_module("intercom_pipeline.definitions")
        defs = getattr(module, "defs_eu")
        graph = defs.resolve_asset_graph()
        jobs = {j.name: sorted(k.to_user_string() for k in j.asset_layer.selected_asset_keys)
                for j in defs.resolve_all_job_defs()}
        print(json.dumps({
            "keys": sorted(k.to_user_string() for k in graph.get_all_asset_keys()),
            "checks": sorted(c.asset_key.to_user_string() for c in graph.asset_check_keys),
            "parents": sorted(p.to_user_string() for k in graph.get_all_asset_keys() for p in graph.get(k).parent_keys),
            "sensor": defs.get_sensor_def("discovery_on_change").asset_key.to_user_string(),
            "jobs": jobs,
            "connection": defs.resources["intercom"].connection,
            "token_in_config": defs.resources["intercom"].access_token,
            "pools": sorted({n.pool for j in defs.resolve_all_job_defs() for n in j.graph.node_defs if n.pool}),
            "default_keys": sorted(k.to_user_string() for k in module.defs.resolve_asset_graph().get_all_asset_keys()),
        }))
    """)
    env = _clean_env(INTERCOM_EU_ACCESS_TOKEN="eu-token", INTERCOM_EU_REGION="eu")
    done = subprocess.run([sys.executable, "-c", script], env=env, cwd=REPO, capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stderr[-3000:]
    out = json.loads(done.stdout.strip().splitlines()[-1])
    assert out["keys"]
    assert all(k.startswith("eu/") for k in out["keys"])
    assert {"eu/contacts", "eu/tags", "eu/warehouse", "eu/detection_changes", "eu/discovery_samples"} <= set(out["keys"])
    assert out["checks"]
    assert all(k.startswith("eu/") for k in out["checks"])
    assert out["parents"]
    assert all(p.startswith("eu/") for p in out["parents"])  # deps follow the prefix
    assert out["sensor"] == "eu/detection_changes"
    assert out["connection"] == "eu"
    assert out["token_in_config"] == ""  # resolved at run time by connections.resolve, never config
    # its own pool for bulk reads; privacy steps in their own pool, never behind an export
    assert out["pools"] == ["intercom_api/eu", "intercom_privacy"]
    assert "eu/tags" in out["jobs"]["exports_snapshot_job"]
    assert out["jobs"]["warehouse_job"] == ["eu/warehouse"]
    assert {"detection_job", "discovery_job", "access_job", "deletion_job"} <= set(out["jobs"])
    for selected in out["jobs"].values():
        assert all(k.startswith("eu/") for k in selected)
    # the default location in the same process keeps its keys unprefixed
    assert out["default_keys"] == sorted(k.removeprefix("eu/") for k in out["keys"])


def test_workspace_with_two_locations_validates(tmp_path):
    workspace = tmp_path / "workspace.yaml"
    workspace.write_text(textwrap.dedent("""
        load_from:
          - python_module:
              module_name: intercom_pipeline.definitions
              attribute: defs
              location_name: intercom_pipeline
          - python_module:
              module_name: intercom_pipeline.definitions
              attribute: defs_eu
              location_name: intercom_pipeline_eu
    """))
    env = _clean_env(DAGSTER_HOME=str(tmp_path), INTERCOM_PIPELINE_DATA=str(tmp_path / "data"))
    done = subprocess.run([sys.executable, "-m", "dagster", "definitions", "validate", "-w", str(workspace)],
                          env=env, cwd=REPO, capture_output=True, text=True, timeout=240)
    assert done.returncode == 0, (done.stdout + done.stderr)[-3000:]
    assert "intercom_pipeline_eu" in done.stdout + done.stderr


def test_each_location_exports_its_own_workspace_into_one_data_root(emulator_factory, data_root, monkeypatch):
    first, second = emulator_factory(seed=7, contacts=40), emulator_factory(seed=8, contacts=40)
    assert first.app_id != second.app_id
    with first.serve() as url_a, second.serve() as url_b:
        monkeypatch.setenv("INTERCOM_ACCESS_TOKEN", "emulator-token")
        monkeypatch.setenv("INTERCOM_BASE_URL", url_a)
        monkeypatch.setenv("INTERCOM_SECOND_ACCESS_TOKEN", "emulator-token")
        monkeypatch.setenv("INTERCOM_SECOND_BASE_URL", url_b)
        for defs, key in ((definitions.build_defs(""), dg.AssetKey("tags")),
                          (definitions.build_defs("second"), dg.AssetKey(["second", "tags"]))):
            asset = next(a for a in defs.assets if key in a.keys)
            result = dg.materialize([asset], resources=defs.resources)
            assert result.success
            [check] = result.get_asset_check_evaluations()
            assert check.asset_key == key
            assert check.passed
    for emu in (first, second):
        files = list((data_root / "exports" / "tags" / f"workspace={emu.app_id}").rglob("*.parquet"))
        assert files, f"no tags export for workspace {emu.app_id}"
        assert emu.stats()  # each fake was actually called
    assert definitions.defs_second is definitions.defs_second  # built once per process


def test_build_defs_reads_settings_without_rewriting_the_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("INTERCOM_PIPELINE_DATA", str(tmp_path))
    before = dict(os.environ)
    eu = definitions.build_defs("eu")
    assert dict(os.environ) == before
    assert eu.resources["data_root"].root == str(tmp_path)  # recorded, absolute
    assert eu.resources["intercom"].data_root == str(tmp_path)
    explicit = definitions.build_defs(LocationSettings(data_root=tmp_path / "other", connection="apac", demo=True))
    assert explicit.resources["data_root"].root == str(tmp_path / "other")
    assert explicit.resources["intercom"].fake  # demo: the fake is resolved, recorded in config
    sensor = next(s for s in explicit.sensors if s.name == "discovery_on_change")
    assert sensor.default_status == dg.DefaultSensorStatus.RUNNING


def test_partitions_and_data_root_are_the_same_in_every_process_whatever_its_directory(tmp_path):
    """A code server and a run worker started elsewhere (another cwd) build the same partitions
    and write to the same absolute data root."""
    script = textwrap.dedent("""
        import json
        from intercom_pipeline.definitions import build_defs
        defs = build_defs("eu")
        job = defs.resolve_job_def("discovery_job")
        print(json.dumps({"start": job.partitions_def.get_first_partition_key(),
                          "root": defs.resources["data_root"].root}))
    """)
    seen = []
    for cwd in (REPO, tmp_path):
        done = subprocess.run([sys.executable, "-c", script], env=_clean_env(), cwd=cwd, capture_output=True,
                              text=True, timeout=120)
        assert done.returncode == 0, done.stderr[-3000:]
        seen.append(json.loads(done.stdout.strip().splitlines()[-1]))
    assert seen[0] == seen[1]
    assert seen[0]["start"].startswith("2026-01-01")
    assert seen[0]["root"] == str(REPO / "data")
    assert not (tmp_path / "data").exists()


def test_a_relative_data_root_is_an_error_naming_the_variable():
    with pytest.raises(settings.SettingsError, match="INTERCOM_PIPELINE_DATA must be an absolute path"):
        settings.data_root({"INTERCOM_PIPELINE_DATA": "data"})
