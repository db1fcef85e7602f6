"""Schemathesis over the whole OpenAPI document against ``parkcarbon serve`` (a real process
on a real database), authenticated as an operator and as an enterprise, with every check:
no 5xx, every status documented, every response matching its schema, schema-violating
requests refused. Settings: tests/schemathesis.toml; the seed is fixed for CI and printed
(``PARKCARBON_FUZZ_SEED`` to explore others)."""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy.orm import Session, sessionmaker

from services.core.embedded import free_port
from services.core.models import MeterRole, Role
from tests.factories import make_enterprise, make_meter, make_park, make_token

CONFIG = Path(__file__).with_name("schemathesis.toml")
EXAMPLES_PER_OPERATION = 20
SEED = int(os.environ.get("PARKCARBON_FUZZ_SEED", "20261130"))


@pytest.fixture
def served(database_url: str, tmp_path: Path) -> Iterator[str]:
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("PARKCARBON_") and k != "DATABASE_URL"}
    env |= {
        "PARKCARBON_DATABASE_URL": database_url,
        "PARKCARBON_API_PORT": str(port),
        "PARKCARBON_DATA_DIR": str(tmp_path / "data"),
        "PARKCARBON_LOG_LEVEL": "WARNING",
    }
    log = (tmp_path / "serve.log").open("wb")
    process = subprocess.Popen(
        [sys.executable, "-m", "services.cli", "serve"], env=env, stdout=log, stderr=subprocess.STDOUT
    )
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while True:
        assert process.poll() is None, (tmp_path / "serve.log").read_text()
        try:
            if httpx.get(f"{base}/healthz", timeout=2).status_code == 200:
                break
        except httpx.HTTPError:
            assert time.monotonic() < deadline
            time.sleep(0.3)
    yield base
    process.send_signal(signal.SIGTERM)
    process.wait(timeout=30)
    log.close()


def _schemathesis(base: str, token: str, seed: int) -> tuple[int, str]:
    binary = shutil.which("schemathesis") or shutil.which("st")
    assert binary, "schemathesis is installed by the README's test command (pip .[dev])"
    result = subprocess.run(
        [
            binary,
            "--config-file",
            str(CONFIG),
            "run",
            f"{base}/openapi.json",
            "--checks",
            "all",
            "--max-examples",
            str(EXAMPLES_PER_OPERATION),
            "--seed",
            str(seed),
            "--header",
            f"Authorization: Bearer {token}",
            "--no-color",
        ],
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )
    return result.returncode, result.stdout + result.stderr


def test_fuzzing_the_openapi_document_finds_no_failure(
    served: str, session_factory: sessionmaker[Session]
) -> None:
    with session_factory() as s:
        park = make_park(s)
        enterprise, other = make_enterprise(s, park), make_enterprise(s, park)
        make_meter(s, park, "E-1", MeterRole.ENTERPRISE_MAIN, enterprise)
        make_meter(s, park, "E-2", MeterRole.ENTERPRISE_MAIN, other)
        tokens = {
            "operator": make_token(s, park, Role.OPERATOR),
            "enterprise": make_token(s, park, Role.ENTERPRISE, enterprise),
        }
        s.commit()
    generated = 0
    for who, token in tokens.items():
        code, output = _schemathesis(served, token, SEED)
        cases = re.search(r"(\d+) generated", output)
        summary = output[output.rfind("SUMMARY") :][:3000]
        print(f"schemathesis as {who} (seed {SEED}):\n{summary}")
        assert code == 0, output[-30000:]
        assert cases is not None
        generated += int(cases.group(1))
    assert generated >= 1000
