"""deploy/: the user-code image's build context and entry point resolve, the Helm values match the
official chart's schema, and a regular (non-editable) install carries the instance settings."""

from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
import sys
import textwrap
from pathlib import Path

import dagster as dg
import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
DEPLOY = REPO / "deploy"

# Keys of one entry of `deployments` in dagster/dagster-user-deployments' values.schema.json
# (chart of Dagster 1.13), and the ones it requires.
DEPLOYMENT_KEYS = {
    "name", "image", "dagsterApiGrpcArgs", "codeServerArgs", "includeConfigInLaunchedRuns", "deploymentNamespace",
    "port", "env", "envConfigMaps", "envSecrets", "annotations", "nodeSelector", "affinity", "tolerations",
    "podSecurityContext", "securityContext", "resources", "livenessProbe", "readinessProbe", "startupProbe",
    "labels", "volumeMounts", "volumes", "schedulerName", "initContainers", "sidecarContainers",
    "deploymentStrategy", "serviceAccount",
}
REQUIRED_DEPLOYMENT_KEYS = {"name", "image", "port"}
IMAGE_KEYS, REQUIRED_IMAGE_KEYS = {"repository", "tag", "pullPolicy"}, {"repository", "pullPolicy"}
PULL_POLICIES = {"Always", "IfNotPresent", "Never"}
TOP_LEVEL_KEYS = {"dagsterHome", "postgresqlSecretName", "celeryConfigSecretName", "deployments",
                  "imagePullSecrets", "serviceAccount", "global", "extraManifests"}


def _dockerfile() -> list[tuple[str, str]]:
    """(instruction, arguments) of deploy/Dockerfile, continuation lines joined."""
    text = re.sub(r"\\\n", " ", (DEPLOY / "Dockerfile").read_text())
    lines = [line.strip() for line in text.splitlines() if line.strip() and not line.strip().startswith("#")]
    return [(line.split(None, 1)[0].upper(), line.split(None, 1)[1]) for line in lines]


def _values() -> dict:
    return yaml.safe_load((DEPLOY / "values.yaml").read_text())


def test_image_build_context_has_every_file_the_dockerfile_copies():
    copies = [shlex.split(args) for op, args in _dockerfile() if op == "COPY"]
    assert copies
    for *sources, _target in copies:
        for source in sources:
            assert (REPO / source).exists(), f"deploy/Dockerfile copies {source}, missing from the build context"


def test_image_installs_the_postgres_extra_with_matching_dagster_libraries():
    run = " ".join(args for op, args in _dockerfile() if op == "RUN")
    assert "'.[postgres]'" in run
    pyproject = (REPO / "pyproject.toml").read_text()
    assert re.search(r"^postgres = \[", pyproject, re.MULTILINE)
    dagster_minor = int(dg.__version__.split(".")[1])
    patch = dg.__version__.split(".")[2]
    # Dagster's libraries are versioned 0.(minor + 16).patch alongside dagster 1.minor.patch.
    library = f"0.{dagster_minor + 16}.{patch}"
    assert f"dagster-k8s=={library}" in run
    assert f'"dagster-postgres=={library}"' in pyproject


def test_image_entry_point_module_and_attribute_resolve(tmp_path):
    [cmd] = [json.loads(args) for op, args in _dockerfile() if op == "CMD"]
    module, attribute = cmd[cmd.index("-m") + 1], cmd[cmd.index("-a") + 1]
    _assert_loads(module, attribute, tmp_path)


def test_helm_values_match_the_user_deployments_chart_schema():
    values = _values()
    assert set(values) <= TOP_LEVEL_KEYS
    deployments = values["deployments"]
    assert len({d["name"] for d in deployments}) == len(deployments) == 2
    for deployment in deployments:
        assert set(deployment) <= DEPLOYMENT_KEYS, set(deployment) - DEPLOYMENT_KEYS
        assert set(deployment) >= REQUIRED_DEPLOYMENT_KEYS
        assert set(deployment["image"]) <= IMAGE_KEYS
        assert set(deployment["image"]) >= REQUIRED_IMAGE_KEYS
        assert deployment["image"]["pullPolicy"] in PULL_POLICIES
        assert isinstance(deployment["port"], int)
        assert all(isinstance(arg, str) for arg in deployment["dagsterApiGrpcArgs"])
        assert deployment["includeConfigInLaunchedRuns"] == {"enabled": True}  # run pods get the same settings


def test_every_deployment_has_the_same_data_root_on_a_shared_volume():
    roots, claims = set(), set()
    for deployment in _values()["deployments"]:
        env = {e["name"]: e["value"] for e in deployment["env"]}
        root = env["INTERCOM_PIPELINE_DATA"]
        assert os.path.isabs(root)
        assert root in {m["mountPath"] for m in deployment["volumeMounts"]}
        roots.add(root)
        claims |= {v["persistentVolumeClaim"]["claimName"] for v in deployment["volumes"]}
    assert len(roots) == 1
    assert len(claims) == 1


@pytest.mark.parametrize("index", [0, 1])
def test_each_helm_code_location_loads(index, tmp_path):
    args = _values()["deployments"][index]["dagsterApiGrpcArgs"]
    _assert_loads(args[args.index("-m") + 1], args[args.index("-a") + 1], tmp_path)


def _assert_loads(module: str, attribute: str, tmp_path: Path) -> None:
    script = f"import importlib; d = getattr(importlib.import_module({module!r}), {attribute!r}); " \
             "print(len(list(d.resolve_asset_graph().get_all_asset_keys())))"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("INTERCOM_", "DAGSTER_"))}
    env["INTERCOM_PIPELINE_DATA"] = str(tmp_path / "data")
    done = subprocess.run([sys.executable, "-c", script], env=env, cwd=tmp_path, capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stderr[-3000:]
    assert int(done.stdout.strip().splitlines()[-1]) > 10


def test_a_regular_install_carries_the_instance_settings_and_respects_dagster_home(tmp_path):
    """Build the wheel, install it (no editable link to the checkout) and use it from elsewhere."""
    wheels, target = tmp_path / "wheels", tmp_path / "site"
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w",
                    str(wheels), str(REPO)], check=True, capture_output=True, timeout=300)
    [wheel] = wheels.glob("intercom_pipeline-*.whl")
    subprocess.run([sys.executable, "-m", "pip", "install", "--no-deps", "-q", "--target", str(target), str(wheel)],
                   check=True, capture_output=True, timeout=300)
    script = textwrap.dedent("""
        import json, os
        import intercom_pipeline
        from intercom_pipeline import instance, settings
        home = instance.dagster_home()
        print(json.dumps({"package": intercom_pipeline.__file__, "home": str(home),
                          "yaml": (home / "dagster.yaml").read_text()}))
    """)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("INTERCOM_", "DAGSTER_"))}
    env.update(PYTHONPATH=str(target), HOME=str(tmp_path / "home"), XDG_DATA_HOME=str(tmp_path / "xdg"))
    done = subprocess.run([sys.executable, "-c", script], env=env, cwd=tmp_path, capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stderr[-3000:]
    out = json.loads(done.stdout.strip().splitlines()[-1])
    assert out["package"].startswith(str(target))
    assert out["home"] == str(tmp_path / "xdg" / "intercom-pipeline" / "dagster_home")
    assert out["yaml"] == (REPO / "intercom_pipeline" / "dagster.yaml").read_text()  # pools and all
    # An operator's DAGSTER_HOME is used as it is: its dagster.yaml is never replaced.
    operator = tmp_path / "operator"
    operator.mkdir()
    (operator / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
    env.update(DAGSTER_HOME=str(operator), INTERCOM_PIPELINE_DATA=str(tmp_path / "data"))
    done = subprocess.run([sys.executable, "-c", script], env=env, cwd=tmp_path, capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stderr[-3000:]
    out = json.loads(done.stdout.strip().splitlines()[-1])
    assert out["home"] == str(operator)
    assert out["yaml"] == "telemetry:\n  enabled: false\n"
    assert not (tmp_path / "data" / "dagster_home").exists()
    # A deployment without an explicit data root is an error naming the variable.
    del env["INTERCOM_PIPELINE_DATA"]
    done = subprocess.run([sys.executable, "-c", "from intercom_pipeline import settings; settings.data_root()"],
                          env=env, cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert "INTERCOM_PIPELINE_DATA is not set" in done.stderr
